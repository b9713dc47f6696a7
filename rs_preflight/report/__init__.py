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
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rs_preflight.report.baseline import compare, key, load_baseline, summary
from rs_preflight.report.codequality import render_codequality
from rs_preflight.report.counts import counts
from rs_preflight.report.html import render_html
from rs_preflight.report.junit import render_junit
from rs_preflight.spec.results import GatePolicy


def area_of(requirement: str) -> str:
    """``RS-OS-01`` → ``os``: the area (one marker and one check module per area)."""
    parts = requirement.split("-")
    return parts[1].lower() if len(parts) > 2 else requirement.lower()


# a check cut short by an interrupt decided nothing about the site: it makes the run
# incomplete (``gate: incomplete``), it does not fail the gate
INTERRUPTED_EFFECT = (False, "interrupted", "interrupted: the run stopped while this check "
                                            "was running; it decided nothing")


def finalize(doc: Mapping[str, Any], policy: GatePolicy,
             baseline: Mapping[str, Any] | None = None, baseline_file: str | None = None
             ) -> dict[str, Any]:
    """A copy of ``doc`` with the gate decided.

    Per record: ``gating``, ``gate_kind``, ``gate_note``, ``baseline`` (new/still/fixed/None)
    and ``area``; for the run: ``gate``, ``gate_failures``, ``gate_policy``, ``baseline`` and
    ``counts`` (``report.counts``: failed + error = what fails the gate).
    ``gate`` is ``failed`` when a result fails the gate (complete or not), else ``incomplete``
    when the run was not complete (``complete: false``, ``completeness.py``), else ``passed``;
    a document without ``complete`` (written before schema 2) counts as complete.
    """
    out = copy.deepcopy(dict(doc))
    statuses = compare(out["results"], baseline["results"]) if baseline is not None else {}
    for record in out["results"]:
        record["area"] = record.get("area") or area_of(record["requirement"])
        record["baseline"] = statuses.get(key(record))
        record["gating"], record["gate_kind"], record["gate_note"] = (
            INTERRUPTED_EFFECT if (record.get("extra") or {}).get("interrupted")
            else policy.effect(record["outcome"], record["severity"], record["baseline"]))
    out["gate_policy"] = policy.to_dict()
    out["gate_failures"] = sum(1 for r in out["results"] if r["gating"])
    out["gate"] = ("failed" if out["gate_failures"]
                   else "passed" if out.get("complete", True) else "incomplete")
    out["counts"] = counts(out["results"])  # the terminal's, JUnit's and the HTML's numbers
    if baseline is not None:
        out["baseline"] = summary(baseline_file or "", baseline, statuses)
    return out


def exit_code(doc: Mapping[str, Any]) -> int:
    """The gate as an exit code: 2 interrupted, 1 failed, 0 passed — or incomplete because
    narrowed (``-k``, ``-x``): the gate of what ran (``cli.py`` documents all codes)."""
    if doc.get("interrupted"):
        return 2
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


REPORT_MODE = 0o600  # reports name hosts, addresses and findings: the owner's only
REPORT_MODES = (0o600, 0o640, 0o644)


def report_mode(value: str) -> int:
    """``0600`` → 0o600, one of ``REPORT_MODES`` (``--rs-report-mode``); ValueError otherwise."""
    try:
        mode = int(value, 8)
    except ValueError:
        mode = -1
    if mode not in REPORT_MODES:
        raise ValueError(f"a report mode is one of {', '.join(f'{m:04o}' for m in REPORT_MODES)}"
                         f", not {value!r}")
    return mode


def folder_mode(mode: int | None) -> int:
    """The mode of a new report folder: 0700, or 0755 when the reports' mode lets others read."""
    return 0o755 if (REPORT_MODE if mode is None else mode) & 0o044 else 0o700


def write_private(path: Path, text: str, mode: int = REPORT_MODE) -> None:
    """Write ``text`` to ``path`` with exactly ``mode`` (also when the file existed with
    another); a new folder gets ``folder_mode``."""
    path.parent.mkdir(mode=folder_mode(mode), parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), mode)
        out.write(text)


def write_reports(doc: Mapping[str, Any], redactor: Callable[[str], str], *,
                  json_path: Path | None = None, html_path: Path | None = None,
                  junit_path: Path | None = None, codequality_path: Path | None = None,
                  mode: int | None = None) -> None:
    """Redact ``doc`` and write each report asked for (mode 0600 unless ``mode`` says)."""
    clean = redact_doc(doc, redactor)
    renderers: list[tuple[Path | None, Callable[[Mapping[str, Any]], str]]] = [
        (json_path, _json), (html_path, render_html), (junit_path, render_junit),
        (codequality_path, render_codequality)]
    for path, render in renderers:
        if path is not None:
            write_private(path, redactor(render(clean)), REPORT_MODE if mode is None else mode)


def _json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


__all__ = ["REPORT_MODE", "REPORT_MODES", "area_of", "exit_code", "finalize", "folder_mode",
           "load_results", "redact_doc", "render_codequality", "render_html", "render_junit",
           "report_mode", "write_private", "write_reports"]
