"""The small subcommands of ``rs-preflight``: requirements, schema, checks-path, report.

Each has its own parser (``--help`` works, usage errors exit 4) and honours ``--rs-catalogue``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from rs_preflight.cliutil import USAGE_ERROR, UsageParser, quiet_pipe, subcommand_parser
from rs_preflight.report import exit_code, finalize, load_results, write_reports
from rs_preflight.report.baseline import BaselineError, load_baseline
from rs_preflight.spec.catalogue import Catalogue, Requirement, load_catalogue
from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.results import FAIL_ON, GatePolicy
from rs_preflight.spec.schema import site_schema

REPORT_FILES = ("report.html", "junit.xml", "gl-code-quality-report.json")


class CatalogueError(Exception):
    """``--rs-catalogue`` names a file that is not a readable catalogue."""


def catalogue_from(path: Path | None) -> Catalogue:
    try:
        return load_catalogue(path)
    except SiteError as exc:  # located: file[:line]: message (not a regular file, too large…)
        raise CatalogueError(f"--rs-catalogue: {exc}") from exc
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise CatalogueError(f"--rs-catalogue {path}: not a readable catalogue: "
                             f"{getattr(exc, 'strerror', None) or exc}") from exc


def checks_path() -> Path:
    """The check modules: inside the installed package, else the source tree's ``checks/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "checks", here.parent / "checks"):
        if (candidate / "__init__.py").exists():
            return candidate
    raise SystemExit("rs-preflight: the shipped checks are missing from this installation")


def _requirement_row(req: Requirement) -> str:
    sev = (req.severity["pre"] if len(set(req.severity.values())) == 1
           else f"pre {req.severity['pre']}, post {req.severity['post']}")
    return f"{req.id:<16} {sev:<28} {','.join(req.roles):<36} {req.title}"


def _requirement_dict(req: Requirement) -> dict[str, object]:
    return {"id": req.id, "title": req.title, "section": req.section, "roles": list(req.roles),
            "phases": list(req.phases), "severity": dict(req.severity),
            "remediation": req.remediation, "check": req.check}


def requirements(argv: Sequence[str]) -> int:
    parser = subcommand_parser("requirements", "The requirements catalogue: ID, severity per "
                               "phase, roles, title.")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default, one line each) or json (a list of objects)")
    args = parser.parse_args(argv)
    catalogue = catalogue_from(args.rs_catalogue)
    with quiet_pipe():
        if args.format == "json":
            print(json.dumps([_requirement_dict(r) for r in catalogue.values()], indent=2))
        else:
            for req in catalogue.values():
                print(_requirement_row(req))
    return 0


def schema(argv: Sequence[str]) -> int:
    parser = subcommand_parser("schema", "The site description's JSON Schema (draft 2020-12), "
                               "for editors (yaml-language-server) and CI linting.")
    args = parser.parse_args(argv)
    text = json.dumps(site_schema(catalogue_from(args.rs_catalogue)), indent=2)
    with quiet_pipe():
        print(text)
    return 0


def checks_path_command(argv: Sequence[str]) -> int:
    parser = subcommand_parser("checks-path", "Where the shipped checks are, for plain "
                               "pytest: pytest $(rs-preflight checks-path) -p rs_preflight.plugin")
    parser.parse_args(argv)
    with quiet_pipe():
        print(checks_path())
    return 0


def gate_arguments(parser: UsageParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="failed warnings fail the gate too")
    parser.add_argument("--allow-errors", action="store_true",
                        help="checks that could not run do not fail the gate")
    parser.add_argument("--baseline", type=Path, metavar="FILE",
                        help="results.json of an earlier run: report new/fixed/still failing")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="any",
                        help="new: fail only on failures new since --baseline (default any)")


def _report_parser(epilog: str) -> UsageParser:
    parser = subcommand_parser(
        "report", "Re-render report.html, junit.xml and gl-code-quality-report.json from a "
        "saved results.json (optionally against a baseline, with another gate policy). "
        "--rs-catalogue is accepted: a saved run carries everything the reports need.",
        epilog=epilog)
    parser.add_argument("results", type=Path, help="a results.json written by rs-preflight")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR",
                        help="where to write (default: the results file's folder)")
    gate_arguments(parser)
    return parser


def report(argv: Sequence[str], epilog: str = "") -> int:
    """``rs-preflight report``: the gate of the re-rendered results as the exit code."""
    args = _report_parser(epilog).parse_args(argv)
    if args.fail_on == "new" and args.baseline is None:
        print("rs-preflight report: --fail-on new needs --baseline FILE", file=sys.stderr)
        return USAGE_ERROR
    try:
        doc = load_results(args.results)
        baseline = load_baseline(args.baseline) if args.baseline else None
    except BaselineError as exc:
        print(f"rs-preflight report: {exc}", file=sys.stderr)
        return USAGE_ERROR
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
    html, junit, codequality = (out / name for name in REPORT_FILES)
    write_reports(doc, str, html_path=html, junit_path=junit, codequality_path=codequality)
    print(f"rs-preflight: wrote {html}, {junit} and {codequality}; gate {doc['gate']}")
    return exit_code(doc)
