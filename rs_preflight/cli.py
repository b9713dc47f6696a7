"""The ``rs-preflight`` command: run the shipped checks through pytest and write the reports.

    rs-preflight [--site FILE] [--phase pre|post] [--report-dir DIR] [pytest args…]
    rs-preflight schema          # the site description's JSON Schema
    rs-preflight requirements    # the catalogue: ID, severity, roles, title
    rs-preflight checks-path     # where the shipped checks are (for plain pytest)

Exit codes: 0 gate passed; 1 a blocker failed or could not be checked; 2 interrupted;
3 internal error; 4 usage error or invalid site description (nothing ran); 5 no checks ran.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from .catalogue import load_catalogue
from .schema import site_schema

REPORT_DIR = "rs-preflight-report"


def checks_path() -> Path:
    """The check modules: inside the installed package, else the source tree's ``checks/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "checks", here.parent / "checks"):
        if (candidate / "__init__.py").exists():
            return candidate
    raise SystemExit("rs-preflight: the shipped checks are missing from this installation")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rs-preflight", description="Pre-flight checks for an R-Service site. Arguments "
        "it does not know are passed to pytest (e.g. -k RS-OS, -m rs_limit, -x).",
        epilog="exit codes: 0 gate passed, 1 blocker failed/errored, 2 interrupted, "
               "3 internal error, 4 usage error or invalid site, 5 no checks ran")
    parser.add_argument("--site", type=Path, help="site description (default: this machine)")
    parser.add_argument("--phase", choices=("pre", "post"), help="overrides the site's phase")
    parser.add_argument("--report-dir", type=Path, default=Path(REPORT_DIR),
                        help=f"where to write results.json and junit.xml (default {REPORT_DIR})")
    return parser


def pytest_args(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    checks = checks_path()
    report = args.report_dir
    argv = [str(checks), "-p", "rs_preflight.plugin", "-p", "no:cacheprovider",
            "--rootdir", str(checks), "-c", str(checks / "pytest.ini"),
            "--rs-json", str(report / "results.json"),
            "--junitxml", str(report / "junit.xml"), "-o", "junit_family=xunit1",
            "-o", "junit_suite_name=rs-preflight", "-rfE"]
    if args.site:
        argv += ["--rs-site", str(args.site)]
    if args.phase:
        argv += ["--rs-phase", args.phase]
    return argv + list(extra)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["schema"]:
        print(json.dumps(site_schema(load_catalogue()), indent=2))
        return 0
    if argv[:1] == ["requirements"]:
        for req in load_catalogue().values():
            sev = (req.severity["pre"] if len(set(req.severity.values())) == 1
                   else f"pre {req.severity['pre']}, post {req.severity['post']}")
            print(f"{req.id:<16} {sev:<28} {','.join(req.roles):<36} {req.title}")
        return 0
    if argv[:1] == ["checks-path"]:
        print(checks_path())
        return 0
    args, extra = _parser().parse_known_args(argv)
    # SIGTERM (a CI timeout, `kill`) ends the run like Ctrl-C, so active probes clean up
    signal.signal(signal.SIGTERM, _interrupt)
    return int(pytest.main(pytest_args(args, extra)))


if __name__ == "__main__":
    raise SystemExit(main())
