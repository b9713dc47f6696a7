"""A GitLab Code Quality report from the JSON results, so warnings show in merge requests.

GitLab reads a JSON array of issues (``artifacts: reports: codequality:``; the format is
documented at https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format,
a subset of Code Climate's). One issue per result that failed or could not be checked:

=====================================  =============
result                                 severity
=====================================  =============
blocker failed                         ``critical``
blocker could not be checked (error)   ``major``
warning failed or could not be checked ``minor``
info failed or could not be checked    ``info``
=====================================  =============

Passed, skipped and waived results are not issues. The fingerprint is the SHA-256 of
``REQUIREMENT@host`` (``@site`` for site-level checks): the same problem on the same host keeps
its fingerprint from run to run, so GitLab shows it as existing, not new. The location is the
site description (line 1: a record does not know the line of its host).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from rs_preflight.spec.results import ERROR, FAILED

SEVERITY = {("blocker", FAILED): "critical", ("blocker", ERROR): "major",
            ("warning", FAILED): "minor", ("warning", ERROR): "minor",
            ("info", FAILED): "info", ("info", ERROR): "info"}
DEFAULT_PATH = "rs-preflight.yaml"


def fingerprint(requirement: str, host: str | None) -> str:
    """Stable per requirement and host: ``sha256("RS-OS-01@app1")``."""
    return hashlib.sha256(f"{requirement}@{host or 'site'}".encode()).hexdigest()


def _issue(doc: Mapping[str, Any], r: Mapping[str, Any]) -> dict[str, Any]:
    where = r.get("host") or "site"
    first = (r.get("message") or "").splitlines()[0] if r.get("message") else ""
    what = "could not check" if r["outcome"] == ERROR else "failed"
    description = f"{r['requirement']} {what} on {where}: {first or r.get('title') or ''}"
    body = "\n".join(f"{label}: {r[key]}" for key, label in
                     (("title", "requirement"), ("expected", "expected"), ("found", "found"),
                      ("remediation", "fix"), ("guide_section", "guide section"))
                     if r.get(key))
    return {
        "description": description.rstrip(": "),
        "check_name": r["requirement"],
        "fingerprint": fingerprint(r["requirement"], r.get("host")),
        "severity": SEVERITY[(r["severity"], r["outcome"])],
        "categories": ["Bug Risk"],
        "content": {"body": body},
        "location": {"path": doc.get("site_file") or DEFAULT_PATH, "lines": {"begin": 1}},
    }


def render_codequality(doc: Mapping[str, Any]) -> str:
    """The Code Quality JSON of one run (pure: the document in, the text out)."""
    issues = [_issue(doc, r) for r in doc["results"]
              if r["outcome"] in (FAILED, ERROR) and (r["severity"], r["outcome"]) in SEVERITY
              and not (r.get("extra") or {}).get("interrupted")]  # cut short: no finding
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
