"""The small subcommands of ``rs-preflight``: requirements, schema, lint, checks-path, report.

Each has its own parser (``--help`` works, usage errors exit 4) and honours ``--rs-catalogue``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from rs_preflight.cliutil import USAGE_ERROR, UsageParser, quiet_pipe, subcommand_parser
from rs_preflight.report import exit_code, finalize, load_results, write_reports
from rs_preflight.report.baseline import BaselineError, load_baseline
from rs_preflight.spec.catalogue import Catalogue, Requirement, catalogue_paths, load_catalogues
from rs_preflight.spec.errors import Problem, SiteError
from rs_preflight.spec.kinds import describe, load_kinds
from rs_preflight.spec.results import FAIL_ON, GatePolicy
from rs_preflight.spec.schema import site_schema

REPORT_FILES = ("report.html", "junit.xml", "gl-code-quality-report.json")


class CatalogueError(Exception):
    """``--rs-catalogue`` names a file that is not a readable catalogue."""


def catalogue_from(paths: Sequence[Path] | Path | None) -> Catalogue:
    """The catalogue of ``--rs-catalogue`` (repeated: composed; none: the shipped one)."""
    files = catalogue_paths(paths)
    try:
        return load_catalogues(files)
    except SiteError as exc:  # located: file:line: requirements.ID: message
        raise CatalogueError(f"--rs-catalogue:\n{exc}") from exc
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        shown = " ".join(map(str, files))
        raise CatalogueError(f"--rs-catalogue {shown}: not a readable catalogue: "
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
    return f"{req.id:<16} {req.kind:<22} {sev:<28} {','.join(req.roles):<36} {req.title}"


def _requirement_dict(req: Requirement) -> dict[str, object]:
    return {"id": req.id, "kind": req.kind, "params": dict(req.params), "title": req.title,
            "section": req.section, "roles": list(req.roles), "phases": list(req.phases),
            "severity": dict(req.severity), "remediation": req.remediation}


def requirements(argv: Sequence[str]) -> int:
    parser = subcommand_parser("requirements", "The requirements catalogue: ID, kind, severity "
                               "per phase, roles, title. With --kinds: the check kinds a "
                               "catalogue may name (kind, scope, params, description).")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default, one line each) or json (a list of objects, "
                             "with each requirement's params)")
    parser.add_argument("--kinds", action="store_true",
                        help="list the check kinds instead (* marks a required param)")
    args = parser.parse_args(argv)
    if args.kinds:
        return _kinds(args.format)
    catalogue = catalogue_from(args.rs_catalogue)
    with quiet_pipe():
        if args.format == "json":
            print(json.dumps([_requirement_dict(r) for r in catalogue.values()], indent=2))
        else:
            for req in catalogue.values():
                print(_requirement_row(req))
    return 0


def _kinds(form: str) -> int:
    with quiet_pipe():
        if form == "json":
            print(json.dumps(describe(), indent=2))
            return 0
        for kind in load_kinds().values():
            planned = "planned, no check shipped yet: " if kind.planned else ""
            print(f"{kind.name:<22} {kind.scope:<5} {kind.summary()}\n"
                  f"{'':<28} {planned}{kind.description}")
    return 0


def schema(argv: Sequence[str]) -> int:
    parser = subcommand_parser("schema", "The site description's JSON Schema (draft 2020-12), "
                               "for editors (yaml-language-server) and CI linting.")
    args = parser.parse_args(argv)
    text = json.dumps(site_schema(catalogue_from(args.rs_catalogue)), indent=2)
    with quiet_pipe():
        print(text)
    return 0


def _problem_dict(problem: Problem) -> dict[str, object]:
    return {"file": problem.file, "line": problem.line, "path": problem.path,
            "message": problem.message}


def lint(argv: Sequence[str]) -> int:
    """``rs-preflight lint``: load the site as a run would (schema, files, the site lint of
    ``sitelint.py``) and list every error and warning; exit 4 on an error (the run would
    refuse the site), 1 on a warning with ``--strict``, else 0. Nothing is connected to."""
    from rs_preflight.spec.site import load_site
    from rs_preflight.spec.sitefind import STDIN, find_site

    parser = subcommand_parser(
        "lint", "Check a site description without running anything: schema, files, and the "
        "site lint (two hosts at one address, one DNS name twice, names outside the site's "
        "domain, floating addresses). Errors exit 4, as the run would; warnings are listed.")
    parser.add_argument("--site", metavar="FILE", default=None,
                        help="site description; - reads stdin (default: as the run finds it)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default: one line per problem) or json")
    parser.add_argument("--strict", action="store_true", help="warnings exit 1")
    args = parser.parse_args(argv)
    given = None if args.site is None else STDIN if args.site == "-" else Path(args.site)
    found = find_site(given, os.environ, Path.cwd())
    if found.path is None:
        print(f"rs-preflight lint: no site description to lint ({found.how})", file=sys.stderr)
        return USAGE_ERROR
    catalogue = catalogue_from(args.rs_catalogue)
    try:
        site = load_site(found.path, catalogue=catalogue)
        errors, warnings = [], list(site.warnings)
    except SiteError as exc:
        errors, warnings = exc.problems, exc.warnings
    with quiet_pipe():
        if args.format == "json":
            print(json.dumps({"site": str(found.path), "valid": not errors,
                              "errors": [_problem_dict(p) for p in errors],
                              "warnings": [_problem_dict(p) for p in warnings]}, indent=2))
        else:
            for problem in errors:
                print(f"error: {problem}")
            for problem in warnings:
                print(f"warning: {problem}")
            verdict = ("refused: a run exits 4" if errors else
                       "valid, with warnings" if warnings else "valid")
            print(f"rs-preflight lint: {found.path}: {len(errors)} error(s), "
                  f"{len(warnings)} warning(s): {verdict}")
    if errors:
        return USAGE_ERROR
    return 1 if warnings and args.strict else 0


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
