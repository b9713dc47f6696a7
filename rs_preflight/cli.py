"""The ``rs-preflight`` command: run the shipped checks through pytest and write the reports.

    rs-preflight [--site FILE|-] [--phase pre|post] [--report-dir DIR] [--strict]
                 [--allow-errors] [--waivers FILE] [--baseline FILE [--fail-on new]]
                 [pytest args…]
    rs-preflight report RESULTS.json [-o DIR] [--baseline FILE] [--fail-on any|new]
                 [--strict] [--allow-errors]   # re-render report.html + junit.xml from a run
    rs-preflight schema          # the site description's JSON Schema
    rs-preflight lint            # check a site description (and its lint) without a run
    rs-preflight requirements    # the catalogue: ID, severity, roles, title
    rs-preflight checks-path     # where the shipped checks are (for plain pytest)
    rs-preflight bundle          # run, then write a support bundle (bundle/cli.py)
    rs-preflight init            # a commented site file from .env files / an inventory
    rs-preflight --version

The site: ``--site`` wins, then ``RS_PREFLIGHT_SITE``, then ``./rs-preflight.yaml`` or
``./site.yaml`` (``sitefind.py``); the first line of the output says which one was used.

A run writes ``results.json``, ``report.html``, ``junit.xml`` and ``gl-code-quality-report.json``
into ``--report-dir``, which is created and proven writable before any check runs.

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

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from rs_preflight import __version__, commands
from rs_preflight.cliutil import (
    USAGE_ERROR,
    UsageParser,
    add_plugin_options,
    check_report_dir,
    quiet_pipe,
)
from rs_preflight.commands import CatalogueError, checks_path, gate_arguments
from rs_preflight.spec.sitefind import STDIN, find_site

REPORT_DIR = "rs-preflight-report"
CODEQUALITY = "gl-code-quality-report.json"
EPILOG = """exit codes:
  0  gate passed: no blocker failed or errored (failed warnings may exist)
  1  gate failed: a blocker failed or could not be checked (errors: unless --allow-errors;
     warnings too with --strict; with --fail-on new only what is new since --baseline)
  2  interrupted
  3  internal error
  4  usage error, invalid site or waivers file, unreadable baseline, unwritable report
     folder (nothing ran)
  5  no checks selected"""
SUBCOMMANDS = {
    "requirements": "the catalogue: ID, severity per phase, roles, title (--format table|json)",
    "schema": "the site description's JSON Schema (editors, CI linting)",
    "lint": "check a site description (duplicate addresses and names too); runs nothing",
    "report": "re-render the reports of a saved results.json (other policy, baseline)",
    "bundle": "run the checks, then write a redacted support bundle (.tar.gz)",
    "checks-path": "where the shipped checks are (for plain pytest)",
    "init": "write a commented site file from .env files and/or an Ansible inventory",
}
DESCRIPTION = """Pre-flight checks for an R-Service site. Arguments it does not know are passed
to pytest (e.g. -k RS-OS, -m rs_limit, -x).

commands (each with --help; without one, the checks run):
""" + "\n".join(f"  {name:<13} {text}" for name, text in SUBCOMMANDS.items()) + """

the site: --site FILE (- reads stdin), else $RS_PREFLIGHT_SITE, else ./rs-preflight.yaml or
./site.yaml in the current folder, else this machine (the first output line says which)."""


def version_line() -> str:
    return (f"rs-preflight {__version__} (pytest {pytest.__version__}, Python "
            f"{sys.version.split()[0]})")


def _site_arg(value: str) -> Path:
    return STDIN if value == "-" else Path(value)


def _parser(full_help: bool = False) -> UsageParser:
    """The run's options; with ``full_help`` also the plugin's ``--rs-*`` (help only: the run
    passes those on to pytest untouched)."""
    parser = UsageParser(
        prog="rs-preflight", usage="rs-preflight [COMMAND] [options] [pytest args...]",
        description=DESCRIPTION, epilog=EPILOG, add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    parser.add_argument("--version", action="store_true",
                        help="show rs-preflight's version (and pytest's, Python's) and exit")
    run = parser.add_argument_group("the run")
    run.add_argument("--site", type=_site_arg, metavar="FILE",
                     help="site description; - reads it from stdin (default: see above)")
    run.add_argument("--phase", choices=("pre", "post"), help="overrides the site's phase")
    run.add_argument("--report-dir", type=Path, default=Path(REPORT_DIR), metavar="DIR",
                     help="where to write results.json, report.html, junit.xml and "
                          f"{CODEQUALITY} (default {REPORT_DIR})")
    run.add_argument("--waivers", type=Path, metavar="FILE",
                     help="more waivers (YAML: the site's waivers: format)")
    gate_arguments(parser.add_argument_group("the gate"))  # type: ignore[arg-type]
    if full_help:
        add_plugin_options(parser)
    return parser


def pytest_args(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    checks = checks_path()
    report = args.report_dir
    argv = [str(checks), "-p", "rs_preflight.plugin", "-p", "no:cacheprovider",
            "--rootdir", str(checks), "-c", str(checks / "pytest.ini"),
            "--rs-json", str(report / "results.json"), "--rs-html", str(report / "report.html"),
            "--rs-junit", str(report / "junit.xml"),
            "--rs-codequality", str(report / CODEQUALITY), "-rfE"]
    # no -v: rs-preflight's terminal (report/terminal.py) prints one line per check itself
    if args.site:
        argv += ["--rs-site", str(args.site)]
    if args.phase:
        argv += ["--rs-phase", args.phase]
    if args.strict:
        argv.append("--rs-strict")
    if args.allow_errors:
        argv.append("--rs-allow-errors")
    if args.waivers:
        argv += ["--rs-waivers", str(args.waivers)]
    if args.baseline:
        argv += ["--rs-baseline", str(args.baseline)]
    if args.fail_on != "any":
        argv += ["--rs-fail-on", args.fail_on]
    return argv + list(extra)


def prepare(args: argparse.Namespace, report_dir: Path | None) -> int | None:
    """Before pytest starts: choose the site (and say which), read stdin, check the report
    folder. An exit code when the run must not start, else None."""
    found = find_site(args.site, os.environ, Path.cwd())
    args.site = found.path
    print(found.line, flush=True)
    if found.path == STDIN:
        from rs_preflight.spec.site import read_stdin
        read_stdin()  # now: pytest's capture replaces stdin before the plugin loads the site
    problem = check_report_dir(report_dir) if report_dir is not None else None
    if problem:
        print(f"rs-preflight: {problem} (--report-dir)", file=sys.stderr)
        return USAGE_ERROR
    return None


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
