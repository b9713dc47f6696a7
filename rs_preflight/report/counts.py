"""One way of counting results, shared by the terminal, JSON, JUnit and HTML.

Each record falls in one *category*, decided by its outcome and the gate (``gating``,
``gate_kind`` from ``GatePolicy.effect``):

=========  ===========================================================================
category   records
=========  ===========================================================================
passed     checked and right
failed     checked and wrong, and it fails the gate (a blocker; a warning with --strict)
error      could not be checked, and that fails the gate
warned     failed or could not be checked, but does not fail the gate (a warning, info,
           an error with --allow-errors, a known failure with --fail-on new)
waived     failed, accepted by a valid waiver
n/a        does not apply (skipped, and why)
=========  ===========================================================================

So ``failed + error`` is the number of results that fail the gate, everywhere.

>>> word({"outcome": "failed", "severity": "blocker", "gating": True})
'FAILED (blocker)'
>>> category({"outcome": "failed", "severity": "warning", "gating": False})
'warned'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rs_preflight.spec.results import ERROR, FAILED, PASSED, SKIPPED, WAIVED

CATEGORIES = ("passed", "failed", "error", "warned", "waived", "n/a")
COLOUR = {"passed": "green", "failed": "red", "error": "red", "warned": "yellow",
          "waived": "cyan", "n/a": "white"}
LETTER = {"passed": ".", "failed": "F", "error": "E", "warned": "W", "waived": "w", "n/a": "-"}
_SOFT_WORD = {"warning": "WARN", "info": "INFO", "allowed-error": "ERROR (allowed)",
              "known-failure": "FAILED (known)"}


def category(record: Mapping[str, Any]) -> str:
    """The record's category (see the module docstring)."""
    outcome = str(record["outcome"])
    if outcome in (FAILED, ERROR):
        return outcome if record.get("gating") else "warned"
    return {PASSED: "passed", WAIVED: "waived", SKIPPED: "n/a"}.get(outcome, outcome)


def word(record: Mapping[str, Any]) -> str:
    """What the terminal says of one record: ``FAILED (blocker)``, ``WARN``, ``n/a`` …"""
    cat = category(record)
    if cat == "failed":
        return f"FAILED ({record.get('severity')})"
    if cat == "error":
        return "ERROR"
    if cat == "warned":
        kind = record.get("gate_kind") or record.get("severity") or "warning"
        if record["outcome"] == ERROR and kind in ("warning", "info"):
            return f"ERROR ({kind})"  # a warning that could not be checked
        return _SOFT_WORD.get(kind, kind.upper())
    return cat


def status_of(record: Mapping[str, Any]) -> tuple[str, str, tuple[str, dict[str, bool]]]:
    """``pytest_report_teststatus``'s answer: (category, letter, (word, markup))."""
    cat = category(record)
    return cat, LETTER[cat], (word(record), {COLOUR[cat]: True})


def counts(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{category: n}`` for every category, in ``CATEGORIES`` order (zeros included)."""
    out = dict.fromkeys(CATEGORIES, 0)
    for record in records:
        out[category(record)] += 1
    return out


def counts_text(numbers: Mapping[str, int]) -> str:
    """``3 passed, 1 failed, 2 warned, 4 n/a`` (categories with none left out)."""
    return ", ".join(f"{n} {c}" for c, n in numbers.items() if n) or "no results"
