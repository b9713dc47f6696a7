"""The GitLab Code Quality report: valid against the documented format, severities mapped,
fingerprints stable per requirement@host, warnings included (they never fail a gate, but a
merge request must show them), written by the command into the report folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rs_preflight.report import finalize, render_codequality
from rs_preflight.report.codequality import fingerprint
from rs_preflight.spec.results import GatePolicy

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"

# GitLab's Code Quality report format, as documented (docs.gitlab.com/ci/testing/code_quality,
# "Code Quality report format"): a JSON array of objects with these required fields.
GITLAB_CODE_QUALITY = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object", "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "lines": {"type": "object", "required": ["begin"],
                              "properties": {"begin": {"type": "integer", "minimum": 1}}},
                },
            },
        },
    },
}


def record(requirement: str, host: str | None, outcome: str, severity: str) -> dict[str, Any]:
    return {"requirement": requirement, "host": host, "outcome": outcome, "severity": severity,
            "message": f"{requirement} says why\nsecond line", "title": "t", "expected": "x",
            "found": "y", "remediation": "fix it", "guide_section": "9.4"}


def doc(*records: dict[str, Any]) -> dict[str, Any]:
    return {"site": "s", "site_file": "site.yaml", "results": list(records)}


def issues(d: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(render_codequality(d))
    jsonschema.Draft202012Validator(GITLAB_CODE_QUALITY).validate(out)
    return out


@pytest.mark.parametrize(("outcome", "severity", "expected"), [
    ("failed", "blocker", "critical"), ("error", "blocker", "major"),
    ("failed", "warning", "minor"), ("error", "warning", "minor"),
    ("failed", "info", "info"),
    ("passed", "blocker", None), ("skipped", "blocker", None), ("waived", "blocker", None),
])
def test_severity_mapping(outcome: str, severity: str, expected: str | None) -> None:
    found = issues(doc(record("RS-OS-01", "app1", outcome, severity)))
    assert [i["severity"] for i in found] == ([expected] if expected else [])


def test_fingerprint_is_stable_per_requirement_and_host() -> None:
    a = issues(doc(record("RS-OS-01", "app1", "failed", "blocker"),
                   record("RS-OS-01", "app2", "failed", "blocker"),
                   record("RS-DNS-01", None, "error", "blocker")))
    b = issues(doc(record("RS-DNS-01", None, "failed", "blocker"),
                   record("RS-OS-01", "app1", "error", "warning")))
    prints = [i["fingerprint"] for i in a]
    assert len(set(prints)) == 3
    assert {i["fingerprint"] for i in b} <= set(prints)  # another run, another outcome: same
    assert prints[0] == fingerprint("RS-OS-01", "app1") == fingerprint("RS-OS-01", "app1")


def test_issue_says_what_where_and_points_at_the_site_file() -> None:
    [issue] = issues(doc(record("RS-LIMIT-01", "app1", "failed", "warning")))
    assert issue["check_name"] == "RS-LIMIT-01"
    assert issue["description"] == "RS-LIMIT-01 failed on app1: RS-LIMIT-01 says why"
    assert issue["location"] == {"path": "site.yaml", "lines": {"begin": 1}}
    assert "expected: x" in issue["content"]["body"] and "fix: fix it" in issue["content"]["body"]


def test_golden_run_is_valid_and_shows_warnings() -> None:
    d = json.loads((GOLDEN / "results.json").read_text())
    final = finalize(d, GatePolicy())
    found = issues(final)
    problems = [r for r in final["results"] if r["outcome"] in ("failed", "error")]
    assert len(found) == len(problems)
    assert any(r["severity"] == "warning" for r in problems)  # the golden run has warnings
    assert {i["severity"] for i in found} & {"minor"}


def test_the_command_writes_it_next_to_junit(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ITRP_SSL=false\nDB_SSL_MODE=sometimes\n")
    (tmp_path / "site.yaml").write_text(
        "name: cq\nenv_files: [.env]\nhosts: {app1: {address: 192.0.2.1, roles: [app], "
        "ssh: false}}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "rs_preflight.cli", "-k", "RS-ENV"], cwd=tmp_path,
                   capture_output=True, text=True, timeout=120, env=env)
    report = tmp_path / "rs-preflight-report"
    found = json.loads((report / "gl-code-quality-report.json").read_text())
    jsonschema.Draft202012Validator(GITLAB_CODE_QUALITY).validate(found)
    results = json.loads((report / "results.json").read_text())["results"]
    assert sorted(i["check_name"] for i in found) == sorted(
        r["requirement"] for r in results if r["outcome"] in ("failed", "error"))
    assert {i["location"]["path"] for i in found} == {"site.yaml"}
    rerendered = tmp_path / "again"
    proc = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "report",
                           str(report / "results.json"), "-o", str(rerendered)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stderr
    assert json.loads((rerendered / "gl-code-quality-report.json").read_text()) == found
