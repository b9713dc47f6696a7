"""``rs-preflight bundle``: run the checks into a temporary report folder, then bundle.

    rs-preflight bundle [--site FILE] [-o PATH] [--since WHEN] [--redact-pattern REGEX]…
                        [--obfuscate] [--log-lines N] [--max-item-bytes N]
                        [--max-host-bytes N] [--item-timeout S] [--host-timeout S]
                        [pytest args…]

Exit codes: 0 the bundle was written (the verdict is inside it, whatever it is); 2
interrupted; 3 the bundle could not be written (e.g. the self-scan found a secret: the
message names the file); 4 usage error or invalid site description.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from rs_preflight import runargs
from rs_preflight.bundle import BundleOptions, Limits
from rs_preflight.bundle.plugin import BundleAtFinish
from rs_preflight.cliutil import UsageParser

DEFAULTS = Limits()


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {exc}") from exc
    return value


def _parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="rs-preflight bundle",
        description="Run the checks, then write one support bundle (.tar.gz) with every "
                    "host's state, redacted and scanned for secrets before it is written.",
        epilog="Every option of a normal run (--site, --phase, --waivers, --rs-catalogue, "
               "-k …; see rs-preflight --help) applies too; the site is found as for a run. "
               "exit codes: 0 bundle written, 2 interrupted, 3 bundle not written, "
               "4 usage error or invalid site")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="bundle path or folder (default ./rs-bundle-<site>-<time>.tar.gz)")
    p.add_argument("--since", default=DEFAULTS.since,
                   help=f"journal of docker and chrony since WHEN (default {DEFAULTS.since})")
    p.add_argument("--redact-pattern", action="append", default=[], metavar="REGEX", type=_regex,
                   help="also redact REGEX (its 'mask' group, else the match); repeatable")
    p.add_argument("--obfuscate", action="store_true",
                   help="pseudonyms for host names, the domain and addresses; the map is "
                        "written next to the bundle (<name>.private-map.json), never in it")
    p.add_argument("--log-lines", type=int, default=DEFAULTS.log_lines,
                   help=f"last N lines of each container log (default {DEFAULTS.log_lines})")
    p.add_argument("--max-item-bytes", type=int, default=DEFAULTS.max_item_bytes,
                   help=f"cap per item, newest kept (default {DEFAULTS.max_item_bytes})")
    p.add_argument("--max-host-bytes", type=int, default=DEFAULTS.max_host_bytes,
                   help=f"cap per host (default {DEFAULTS.max_host_bytes})")
    p.add_argument("--item-timeout", type=float, default=DEFAULTS.item_timeout,
                   help=f"seconds per command on a host (default {DEFAULTS.item_timeout:g})")
    p.add_argument("--host-timeout", type=float, default=DEFAULTS.host_timeout,
                   help=f"seconds per host in all (default {DEFAULTS.host_timeout:g})")
    return p


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str]) -> int:
    args, rest = _parser().parse_known_args(list(argv))
    # the same options and pytest invocation as a normal run
    run, extra = runargs.parser().parse_known_args(rest)
    limits = Limits(item_timeout=args.item_timeout, host_timeout=args.host_timeout,
                    max_item_bytes=args.max_item_bytes, max_host_bytes=args.max_host_bytes,
                    log_lines=args.log_lines, since=args.since)
    stop = runargs.prepare(run, None)  # the site as for a run (and say which); no report folder
    if stop is not None:
        return stop
    output = args.output or Path.cwd()
    hook = BundleAtFinish(BundleOptions(output, limits, tuple(args.redact_pattern),
                                        args.obfuscate))
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="rs-bundle-report-") as tmp:
        run.report_dir = Path(tmp)
        rc = int(pytest.main(runargs.pytest_args(run, extra), plugins=[hook]))
    if hook.summary is not None:
        return 0
    if rc in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.USAGE_ERROR):
        return rc
    if hook.error is None:
        print("rs-preflight bundle: no bundle was written", file=sys.stderr)
    return int(pytest.ExitCode.INTERNAL_ERROR)
