"""The ``rs-preflight`` command: run the shipped checks through pytest and write the reports.

    rs-preflight [--site FILE] [--phase pre|post] [--report-dir DIR] [--strict]
                 [--allow-errors] [--waivers FILE] [--baseline FILE [--fail-on new]]
                 [pytest args…]
    rs-preflight report RESULTS.json [-o DIR] [--baseline FILE] [--fail-on any|new]
                 [--strict] [--allow-errors]   # re-render report.html + junit.xml from a run
    rs-preflight schema          # the site description's JSON Schema
    rs-preflight requirements    # the catalogue: ID, severity, roles, title
    rs-preflight checks-path     # where the shipped checks are (for plain pytest)

A run writes ``results.json``, ``report.html`` and ``junit.xml`` into ``--report-dir``.

Exit codes (the gate: ``results.GatePolicy``):

0  gate passed: no blocker failed or errored (failed warnings may exist)
1  gate failed: a blocker failed, or could not be checked (unless ``--allow-errors``); with
   ``--strict`` a failed or unchecked warning too; with ``--fail-on new`` only results that
   were not already failing in ``--baseline`` count
2  interrupted (Ctrl-C, SIGTERM)
3  internal error
4  usage error, invalid site description or waivers file, unreadable baseline (nothing ran)
5  no checks selected

``report`` exits 0 or 1 with the gate of the re-rendered results (4 on a usage error).
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
from .report import exit_code, finalize, load_results, write_reports
from .report.baseline import BaselineError, load_baseline
from .results import FAIL_ON, GatePolicy
from .schema import site_schema

REPORT_DIR = "rs-preflight-report"
EPILOG = """exit codes:
  0  gate passed: no blocker failed or errored (failed warnings may exist)
  1  gate failed: a blocker failed or could not be checked (errors: unless --allow-errors;
     warnings too with --strict; with --fail-on new only what is new since --baseline)
  2  interrupted
  3  internal error
  4  usage error, invalid site or waivers file, unreadable baseline (nothing ran)
  5  no checks selected"""


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
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, help="site description (default: this machine)")
    parser.add_argument("--phase", choices=("pre", "post"), help="overrides the site's phase")
    parser.add_argument("--report-dir", type=Path, default=Path(REPORT_DIR),
                        help="where to write results.json, report.html and junit.xml "
                             f"(default {REPORT_DIR})")
    _gate_arguments(parser)
    parser.add_argument("--waivers", type=Path, metavar="FILE",
                        help="more waivers (YAML: the site's waivers: format)")
    return parser


def _gate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="failed warnings fail the gate too")
    parser.add_argument("--allow-errors", action="store_true",
                        help="checks that could not run do not fail the gate")
    parser.add_argument("--baseline", type=Path, metavar="FILE",
                        help="results.json of an earlier run: report new/fixed/still failing")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="any",
                        help="new: fail only on failures new since --baseline (default any)")


def _report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rs-preflight report", description="Re-render report.html and junit.xml from "
        "a saved results.json (optionally against a baseline, with another gate policy).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a results.json written by rs-preflight")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR",
                        help="where to write (default: the results file's folder)")
    _gate_arguments(parser)
    return parser


def report(argv: Sequence[str]) -> int:
    """``rs-preflight report``: the gate of the re-rendered results as the exit code."""
    args = _report_parser().parse_args(argv)
    if args.fail_on == "new" and args.baseline is None:
        print("rs-preflight report: --fail-on new needs --baseline FILE", file=sys.stderr)
        return 4
    try:
        doc = load_results(args.results)
        baseline = load_baseline(args.baseline) if args.baseline else None
    except BaselineError as exc:
        print(f"rs-preflight report: {exc}", file=sys.stderr)
        return 4
    saved = GatePolicy.from_dict(doc.get("gate_policy"))
    policy = GatePolicy(strict=args.strict or saved.strict,
                        allow_errors=args.allow_errors or saved.allow_errors,
                        fail_on=args.fail_on if args.baseline else "any")
    if baseline is None and doc.get("baseline"):
        doc = {k: v for k, v in doc.items() if k != "baseline"}  # the saved comparison stays
        baseline_file: str | None = None
    else:
        baseline_file = str(args.baseline) if args.baseline else None
    doc = finalize(doc, policy, baseline, baseline_file)
    out = args.output or args.results.parent
    write_reports(doc, str, html_path=out / "report.html", junit_path=out / "junit.xml")
    print(f"rs-preflight: wrote {out / 'report.html'} and {out / 'junit.xml'}; "
          f"gate {doc['gate']}")
    return exit_code(doc)


def pytest_args(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    checks = checks_path()
    report = args.report_dir
    argv = [str(checks), "-p", "rs_preflight.plugin", "-p", "no:cacheprovider",
            "--rootdir", str(checks), "-c", str(checks / "pytest.ini"),
            "--rs-json", str(report / "results.json"), "--rs-html", str(report / "report.html"),
            "--rs-junit", str(report / "junit.xml"), "-rfE"]
    if not any(a in ("-q", "--quiet", "-v", "--verbose") or a.startswith(("-q", "-v"))
               for a in extra if not a.startswith("--rs")):
        argv.append("-v")  # progress: one line per check, [REQUIREMENT@host]
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
    if argv[:1] == ["bundle"]:  # the support bundle: rs_preflight/bundle/cli.py
        from .bundle.cli import main as bundle
        return bundle(argv[1:])
    if argv[:1] == ["report"]:
        return report(argv[1:])
    args, extra = _parser().parse_known_args(argv)
    # SIGTERM (a CI timeout, `kill`) ends the run like Ctrl-C, so active probes clean up
    signal.signal(signal.SIGTERM, _interrupt)
    return int(pytest.main(pytest_args(args, extra)))


if __name__ == "__main__":
    raise SystemExit(main())
