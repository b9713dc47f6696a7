"""Reports: every renderer reads one document, the JSON results (``results.json``).

The run builds the document (``runner.write_json``'s shape), ``finalize`` applies the gate
policy and the baseline to it (pure: the same function re-renders a saved run), and
``write_reports`` redacts it and writes JSON, HTML and JUnit::

    doc = finalize(load_results(Path("results.json")), GatePolicy(strict=True))
    Path("report.html").write_text(render_html(doc))
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..results import GatePolicy
from .baseline import compare, key, load_baseline, summary
from .codequality import render_codequality
from .counts import counts
from .html import render_html
from .junit import render_junit


def area_of(requirement: str) -> str:
    """``RS-OS-01`` → ``os``: the area (one marker and one check module per area)."""
    parts = requirement.split("-")
    return parts[1].lower() if len(parts) > 2 else requirement.lower()


def finalize(doc: Mapping[str, Any], policy: GatePolicy,
             baseline: Mapping[str, Any] | None = None, baseline_file: str | None = None
             ) -> dict[str, Any]:
    """A copy of ``doc`` with the gate decided.

    Per record: ``gating``, ``gate_kind``, ``gate_note``, ``baseline`` (new/still/fixed/None)
    and ``area``; for the run: ``gate``, ``gate_failures``, ``gate_policy``, ``baseline`` and
    ``counts`` (``report.counts``: failed + error = what fails the gate).
    """
    out = copy.deepcopy(dict(doc))
    statuses = compare(out["results"], baseline["results"]) if baseline is not None else {}
    for record in out["results"]:
        record["area"] = record.get("area") or area_of(record["requirement"])
        record["baseline"] = statuses.get(key(record))
        record["gating"], record["gate_kind"], record["gate_note"] = policy.effect(
            record["outcome"], record["severity"], record["baseline"])
    out["gate_policy"] = policy.to_dict()
    out["gate_failures"] = sum(1 for r in out["results"] if r["gating"])
    out["gate"] = "failed" if out["gate_failures"] else "passed"
    out["counts"] = counts(out["results"])  # the terminal's, JUnit's and the HTML's numbers
    if baseline is not None:
        out["baseline"] = summary(baseline_file or "", baseline, statuses)
    return out


def exit_code(doc: Mapping[str, Any]) -> int:
    """The gate as an exit code: 1 failed, 0 passed (``cli.py`` documents all codes)."""
    return 1 if doc.get("gate") == "failed" else 0


def redact_doc(value: Any, redactor: Callable[[str], str]) -> Any:
    """Every string of the document through the site's redactor, before any rendering."""
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, Mapping):
        return {k: redact_doc(v, redactor) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_doc(v, redactor) for v in value]
    return value


def load_results(path: Path) -> dict[str, Any]:
    """A saved results.json (raises ``BaselineError`` when it is not one)."""
    return load_baseline(path)


def write_reports(doc: Mapping[str, Any], redactor: Callable[[str], str], *,
                  json_path: Path | None = None, html_path: Path | None = None,
                  junit_path: Path | None = None, codequality_path: Path | None = None) -> None:
    """Redact ``doc`` and write each report asked for."""
    clean = redact_doc(doc, redactor)
    renderers: list[tuple[Path | None, Callable[[Mapping[str, Any]], str]]] = [
        (json_path, _json), (html_path, render_html), (junit_path, render_junit),
        (codequality_path, render_codequality)]
    for path, render in renderers:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(redactor(render(clean)), encoding="utf-8")


def _json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


__all__ = ["area_of", "exit_code", "finalize", "load_results", "redact_doc",
           "render_codequality", "render_html", "render_junit", "write_reports"]
