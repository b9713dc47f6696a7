"""Comparing a run with an earlier one (``--baseline previous.json``).

Results are matched by (requirement, host). A result that fails or errors now is *new* when it
did not fail or error in the baseline (or was not there), *still* when it did; a result that
passes now but failed or errored in the baseline is *fixed*. ``--fail-on new`` makes the gate
count *new* only (``GatePolicy``).

>>> compare([{"requirement": "RS-OS-01", "host": "app1", "outcome": "failed"}], [])
{'RS-OS-01@app1': 'new'}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.inputs import InputError, read_text
from rs_preflight.spec.results import ERROR, FAILED, PASSED

NEW, STILL, FIXED = "new", "still", "fixed"
BAD = (FAILED, ERROR)


class BaselineError(PreflightError):
    """The baseline file is not a results.json of rs-preflight."""


def key(record: Mapping[str, Any]) -> str:
    """``RS-OS-01@app1``, or the bare requirement ID for a site-level result."""
    host = record.get("host")
    return f"{record['requirement']}@{host}" if host else str(record["requirement"])


def load_baseline(path: Path) -> dict[str, Any]:
    """A results.json written by an earlier run."""
    try:
        doc = json.loads(read_text(path, "baseline"))
    except InputError as exc:  # not a regular file, too large, not UTF-8
        raise BaselineError(str(exc.problem)) from exc
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise BaselineError(f"{path}: not JSON: {exc}") from exc
    except RecursionError as exc:  # json's C decoder refuses deep nesting this way
        raise BaselineError(f"{path}: not an rs-preflight results.json (nested too "
                            f"deeply)") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list) or any(
            not isinstance(r, dict) or not isinstance(r.get("requirement"), str)
            or not isinstance(r.get("outcome"), str)
            or not isinstance(r.get("host"), str | None) for r in doc["results"]):
        raise BaselineError(f"{path}: not an rs-preflight results.json (no results list)")
    return doc


def compare(current: Iterable[Mapping[str, Any]], baseline: Iterable[Mapping[str, Any]]
            ) -> dict[str, str]:
    """``{key: new|still|fixed}`` for the current results that changed or stayed bad."""
    before = {key(r): r["outcome"] for r in baseline}
    out: dict[str, str] = {}
    for record in current:
        k, was = key(record), before.get(key(record))
        if record["outcome"] in BAD:
            out[k] = STILL if was in BAD else NEW
        elif record["outcome"] == PASSED and was in BAD:
            out[k] = FIXED
    return out


def summary(path: str, baseline: Mapping[str, Any], statuses: Mapping[str, str]
            ) -> dict[str, Any]:
    """The ``baseline`` block of the JSON report."""
    return {"file": path, "site": baseline.get("site"), "start": baseline.get("start"),
            **{status: sorted(k for k, s in statuses.items() if s == status)
               for status in (NEW, FIXED, STILL)}}
