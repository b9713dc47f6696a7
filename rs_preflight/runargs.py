"""A run's options and its pytest invocation: what ``rs-preflight`` and ``rs-preflight bundle``
share (``cli.py`` and ``bundle/cli.py`` both import it; neither imports the other's module).

``parser()`` reads the run's own options (everything else goes to pytest), ``prepare()`` finds
the site and checks the report folder before pytest starts, ``pytest_args()`` is the pytest
command line of the run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rs_preflight.cliutil import USAGE_ERROR, UsageParser, add_plugin_options, check_report_dir
from rs_preflight.commands import checks_path, gate_arguments
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
    "requirements": "the catalogue: ID, kind, severity, roles, title (--format json; "
                    "--kinds)",
    "schema": "the site description's JSON Schema (editors, CI linting)",
    "report": "re-render the reports of a saved results.json (other policy, baseline)",
    "bundle": "run the checks, then write a redacted support bundle (.tar.gz)",
    "lint": "check a site description (duplicate addresses and names too); runs nothing",
    "checks-path": "where the shipped checks are (for plain pytest)",
    "init": "write a commented site file from .env files and/or an Ansible inventory",
}
DESCRIPTION = """Pre-flight checks for an R-Service site. Arguments it does not know are passed
to pytest (e.g. -k RS-OS, -m rs_limit, -x).

commands (each with --help; without one, the checks run):
""" + "\n".join(f"  {name:<13} {text}" for name, text in SUBCOMMANDS.items()) + """

the site: --site FILE (- reads stdin), else $RS_PREFLIGHT_SITE, else ./rs-preflight.yaml or
./site.yaml in the current folder, else this machine (the first output line says which)."""


def _site_arg(value: str) -> Path:
    return STDIN if value == "-" else Path(value)


def parser(full_help: bool = False) -> UsageParser:
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


__all__ = ["CODEQUALITY", "DESCRIPTION", "EPILOG", "REPORT_DIR", "SUBCOMMANDS", "parser",
           "prepare", "pytest_args"]
