"""The ``rs-preflight`` command: run the shipped checks through pytest and write the reports.

    rs-preflight [--site FILE|-] [--phase pre|post] [--report-dir DIR] [--strict]
                 [--allow-errors] [--waivers FILE] [--baseline FILE [--fail-on new]]
                 [pytest args…]
    rs-preflight report RESULTS.json [-o DIR] [--baseline FILE] [--fail-on any|new]
                 [--strict] [--allow-errors]   # re-render report.html + junit.xml from a run
    rs-preflight schema          # the site description's JSON Schema
    rs-preflight lint            # check a site description (and its lint) without a run
    rs-preflight requirements    # the catalogue: ID, kind, severity, roles, title (--kinds)
    rs-preflight checks-path     # where the shipped checks are (for plain pytest)
    rs-preflight bundle          # run, then write a support bundle (bundle/cli.py)
    rs-preflight init            # a commented site file from .env files / an inventory
    rs-preflight --version

The site: ``--site`` wins, then ``RS_PREFLIGHT_SITE``, then ``./rs-preflight.yaml`` or
``./site.yaml`` (``sitefind.py``); the first line of the output says which one was used.

A run writes ``results.json``, ``report.html``, ``junit.xml`` and ``gl-code-quality-report.json``
into ``--report-dir``, which is created and proven writable before any check runs. The run's
options and its pytest command line are in ``runargs.py`` (``rs-preflight bundle`` runs the
same way).

Exit codes (the gate: ``results.GatePolicy``):

0  gate passed: no blocker failed or errored (failed warnings may exist)
1  gate failed: a blocker failed, or could not be checked (unless ``--allow-errors``); with
   ``--strict`` a failed or unchecked warning too; with ``--fail-on new`` only results that
   were not already failing in ``--baseline`` count
2  interrupted (Ctrl-C, SIGTERM)
3  internal error
4  usage error (every subcommand), invalid site description or waivers file, unreadable
   baseline, unwritable report folder (nothing ran)
5  no checks selected

``report`` exits 0 or 1 with the gate of the re-rendered results (4 on a usage error).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence

import pytest

from rs_preflight import __version__, commands
from rs_preflight.cliutil import USAGE_ERROR, quiet_pipe
from rs_preflight.commands import CatalogueError
from rs_preflight.runargs import EPILOG, prepare, pytest_args
from rs_preflight.runargs import parser as _parser


def version_line() -> str:
    return (f"rs-preflight {__version__} (pytest {pytest.__version__}, Python "
            f"{sys.version.split()[0]})")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(argv: Sequence[str]) -> int:
    args, extra = _parser().parse_known_args(argv)
    if args.help:
        with quiet_pipe():
            print(_parser(full_help=True).format_help())
        return 0
    if args.version:
        print(version_line())
        return 0
    stop = prepare(args, args.report_dir)
    if stop is not None:
        return stop
    # SIGTERM (a CI timeout, `kill`) ends the run like Ctrl-C, so active probes clean up
    signal.signal(signal.SIGTERM, _interrupt)
    with _no_plugin_autoload():
        code = int(pytest.main(pytest_args(args, extra) + _engine_args(extra)))
    if code == pytest.ExitCode.INTERRUPTED:
        # The reports are written and the probes undone by now; a worker thread still
        # finishing abandoned work (an HTTP retry, a TLS handshake) must not hold the exit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


XDIST = ("-n", "--numprocesses", "--dist", "--tx", "--maxprocesses")


def _engine_args(extra: Sequence[str]) -> list[str]:
    """pytest as an engine: no assertion rewriting (checks return verdicts, nothing to
    rewrite: ~1 s of start-up CPU without a bytecode cache), and xdist loaded only when asked
    for (autoloading is off, ``_no_plugin_autoload``)."""
    argv = ["--assert=plain"]
    if any(a == opt or a.startswith(opt + ("=" if opt.startswith("--") else ""))
           for a in extra for opt in XDIST):
        argv += ["-p", "xdist.plugin"]
    return argv


@contextlib.contextmanager
def _no_plugin_autoload() -> Iterator[None]:
    """Installed pytest plugins are not loaded by the run (hypothesis' alone costs ~1 s of CPU
    at the summary); ``-p NAME`` still loads one. Set for the run only (and its xdist workers,
    which inherit the environment)."""
    saved = os.environ.get(AUTOLOAD)
    os.environ[AUTOLOAD] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(AUTOLOAD, None)
        else:
            os.environ[AUTOLOAD] = saved


AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


def _bundle(argv: Sequence[str]) -> int:
    from rs_preflight.bundle.cli import (
        main as bundle,  # the support bundle: rs_preflight/bundle/cli.py
    )
    return bundle(argv)


def _init(argv: Sequence[str]) -> int:
    from rs_preflight.initsite import main as init
    return init(argv)


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "requirements": commands.requirements, "schema": commands.schema, "lint": commands.lint,
    "checks-path": commands.checks_path_command,
    "report": lambda argv: commands.report(argv, EPILOG),
    "bundle": _bundle, "init": _init,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        return command(argv[1:]) if command else run(argv)
    except CatalogueError as exc:
        print(f"rs-preflight: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except SystemExit as exc:  # argparse's --help (0) and our usage errors (4)
        if isinstance(exc.code, str):  # a message: the installation itself is broken
            print(exc.code, file=sys.stderr)
            return int(pytest.ExitCode.INTERNAL_ERROR)
        return int(exc.code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
