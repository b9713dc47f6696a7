"""JUnit XML from the JSON results: one ``<testsuite>`` per host, one ``<testcase>`` per
(check, host), valid against the JUnit schema of Jenkins' xUnit plugin (``junit-10.xsd``, the
one pytest's xunit2 output is tested against; vendored in ``tests/data``) and read by GitLab.

How each outcome is written (``gating`` comes from the gate policy, ``report.finalize``):

==========================================  ==============================================
result                                      JUnit
==========================================  ==============================================
passed                                      ``<testcase>``
failed, fails the gate (a blocker; a        ``<failure type="blocker|warning">``
warning with ``--strict``)
error (could not check), fails the gate     ``<error type="could-not-check">``
failed/error that does not fail the gate    in the suite ``rs-preflight <site> warnings (do
(a warning, ``--allow-errors``, a known     not fail the gate)``: ``<failure type="warning|
failure with ``--fail-on new``)             info|allowed-error|known-failure">`` named
                                            ``WARNING RS-…@host: …``, message ``WARNING (…)``
waived                                      ``<skipped type="waived">`` with who/until/why
skipped (does not apply)                    ``<skipped type="not-applicable">``
==========================================  ==============================================

The schema has no ``<properties>`` inside a ``<testcase>`` (pytest's xunit2 drops them for the
same reason), so each suite's ``<properties>`` carry the run and the host (site, phase,
profile, host, roles, gate) and each case's ``<system-out>`` carries its own as ``key: value``
lines (requirement, host, roles, severity, phase, guide_section, outcome, waiver, baseline) —
GitLab and Jenkins show both on the case's page.

An incomplete run (``complete: false``) says so first: a suite ``rs-preflight <site> run``
before the hosts' (properties ``complete``, ``interrupted``, ``gate``) with one case,
``rs-preflight run: INCOMPLETE``, that is an ``<error type="interrupted">`` when the run was
interrupted and a ``<skipped type="incomplete">`` when it was narrowed (``-k``, ``-x``) — its
message names the reasons and the checks that did not run. Every suite carries the
``complete`` property when the document has it.

Why warnings are failures of their own suite: GitLab's merge-request widget shows failed and
errored cases only, so a warning written as ``<skipped>`` (as before) was never seen there. In a
suite of their own, named so, they are visible and cannot be mistaken for what fails the gate:
the per-host suites' ``failures`` + ``errors`` are exactly the results that fail the gate
(``report.counts``), and the exit code stays the gate.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from rs_preflight.report.counts import category
from rs_preflight.spec.results import ERROR, FAILED, SKIPPED, WAIVED

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
WARNINGS = "~warnings"  # the suite of failures that do not fail the gate
WARNINGS_SUITE = "warnings (do not fail the gate)"
CASE_FIELDS = ("requirement", "host", "roles", "severity", "phase", "guide_section", "outcome",
               "waiver", "baseline", "gate_note")


def _text(value: object) -> str:
    return _INVALID_XML.sub("?", "" if value is None else str(value))


def _case_name(r: Mapping[str, Any]) -> str:
    where = f"@{r['host']}" if r.get("host") else ""
    return f"{r['requirement']}{where}: {r.get('title') or r['id']}"


def _details(r: Mapping[str, Any]) -> str:
    lines = [r.get("message") or ""]
    for label in ("expected", "found", "evidence"):
        if r.get(label):
            lines.append(f"{label}: {r[label]}")
    if r.get("remediation"):
        lines.append(f"remediation (guide §{r.get('guide_section')}): {r['remediation']}")
    return "\n".join(lines)


def _status(r: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(element, type, message prefix) of a non-passing case, or None for a plain pass."""
    outcome = r["outcome"]
    if outcome in (FAILED, ERROR) and r.get("gating"):
        return (("failure", r["severity"], "") if outcome == FAILED
                else ("error", "could-not-check", "could not check: "))
    if outcome in (FAILED, ERROR):
        note, kind = r.get("gate_note") or "", r.get("gate_kind") or r["severity"]
        what = "FAILED" if outcome == FAILED else "COULD NOT CHECK"
        return "failure", kind, f"{kind.upper()} ({what}, {note}): "
    if outcome == WAIVED:
        return "skipped", "waived", f"WAIVED ({r.get('waiver') or 'waiver'}): "
    if outcome == SKIPPED:
        return "skipped", "not-applicable", ""
    return None


def _suite(doc: Mapping[str, Any], host: str, records: list[Mapping[str, Any]]) -> ET.Element:
    counts = {"failure": 0, "error": 0, "skipped": 0}
    title = WARNINGS_SUITE if host == WARNINGS else host
    suite = ET.Element("testsuite", name=f"rs-preflight {doc.get('site')} {title}",
                       hostname="site" if host == WARNINGS else host, package="rs-preflight")
    props = ET.SubElement(suite, "properties")
    roles: list[str] = next((r["roles"] for r in records if r.get("roles")), [])
    for name, value in (("site", doc.get("site")), ("phase", doc.get("phase")),
                        ("profile", doc.get("profile")), ("host", title),
                        ("roles", ",".join(roles or [])), ("gate", doc.get("gate")),
                        ("version", doc.get("version")), *_completeness(doc)):
        ET.SubElement(props, "property", name=name, value=_text(value))
    for r in records:
        where = r.get("host") or "site"
        prefix = "WARNING " if host == WARNINGS else ""
        case = ET.SubElement(suite, "testcase", classname=f"{where}.{r.get('area') or 'rs'}",
                             name=_text(prefix + _case_name(r)),
                             time=f"{r.get('duration_s') or 0:.3f}")
        status = _status(r)
        if status is not None:
            element, kind, prefix = status
            counts[element] += 1
            first = (r.get("message") or "").splitlines()[0] if r.get("message") else ""
            node = ET.SubElement(case, element, type=kind, message=_text(prefix + first))
            node.text = _text(_details(r))
        out = ET.SubElement(case, "system-out")
        out.text = _text("\n".join(
            f"{k}: {','.join(r[k]) if isinstance(r.get(k), list) else r.get(k)}"
            for k in CASE_FIELDS if r.get(k) not in (None, "", [])))
    suite.set("tests", str(len(records)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{sum(r.get('duration_s') or 0 for r in records):.3f}")
    if doc.get("start"):
        suite.set("timestamp", str(doc["start"]))
    return suite


def _completeness(doc: Mapping[str, Any]) -> list[tuple[str, object]]:
    if "complete" not in doc:
        return []
    return [("complete", str(bool(doc["complete"])).lower()),
            ("interrupted", str(bool(doc.get("interrupted"))).lower())]


def _run_suite(doc: Mapping[str, Any]) -> ET.Element:
    """The marker of an incomplete run, first in the file."""
    interrupted = bool(doc.get("interrupted"))
    suite = ET.Element("testsuite", name=f"rs-preflight {doc.get('site')} run",
                       hostname="runner", package="rs-preflight", tests="1",
                       failures="0", errors="1" if interrupted else "0",
                       skipped="0" if interrupted else "1", time="0.000")
    props = ET.SubElement(suite, "properties")
    for name, value in (("site", doc.get("site")), ("phase", doc.get("phase")),
                        ("gate", doc.get("gate")), *_completeness(doc)):
        ET.SubElement(props, "property", name=name, value=_text(value))
    case = ET.SubElement(suite, "testcase", classname="rs-preflight.run",
                         name="rs-preflight run: INCOMPLETE", time="0.000")
    reasons = list(doc.get("incomplete_reasons") or ["the run was not complete"])
    element, kind = ("error", "interrupted") if interrupted else ("skipped", "incomplete")
    node = ET.SubElement(case, element, type=kind,
                         message=_text(f"INCOMPLETE (gate {doc.get('gate')}): {reasons[0]}"))
    not_run = list(doc.get("not_run") or [])
    node.text = _text("\n".join([*reasons, *(["not run: " + ", ".join(not_run)]
                                             if not_run else [])]))
    if doc.get("start"):
        suite.set("timestamp", str(doc["start"]))
    return suite


def render_junit(doc: Mapping[str, Any]) -> str:
    """The JUnit XML of a finalized results document (pure: same input, same text)."""
    by_host: dict[str, list[Mapping[str, Any]]] = {}
    warned = []
    for r in doc.get("results", []):
        if category(r) == "warned":
            warned.append(r)
        else:
            by_host.setdefault(r.get("host") or "site", []).append(r)
    root = ET.Element("testsuites", name="rs-preflight")
    suites = [_suite(doc, host, records) for host, records in sorted(by_host.items())]
    if doc.get("complete") is False:
        suites.insert(0, _run_suite(doc))
    if warned:
        suites.append(_suite(doc, WARNINGS, warned))
    for attr in ("tests", "failures", "errors"):
        root.set(attr, str(sum(int(s.get(attr) or 0) for s in suites)))
    root.set("time", f"{sum(float(s.get('time') or 0) for s in suites):.3f}")
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"
