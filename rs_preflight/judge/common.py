"""What several judges share: a number against its minimum, one verdict of many parts. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from rs_preflight.spec.results import ERROR, FAILED, PASSED, Verdict, failed, passed, skipped


def at_least(what: str, found: int | None, minimum: int, note: str = "") -> Verdict:
    """``found`` >= ``minimum``; ``None`` means unlimited (always enough)."""
    shown = "unlimited" if found is None else str(found)
    expected = f">= {minimum}"
    if found is None or found >= minimum:
        return passed(f"{what} is {shown}", expected, shown)
    return failed(f"{what} is {shown}, below {minimum}{note}", expected, shown)


def every(what: str, parts: Sequence[tuple[str, Verdict]]) -> Verdict:
    """One site-level verdict of several labelled parts (each floating address, each name)
    that names **every** part that is not passed: an error (could not check) makes the whole
    an error, but the failures beside it are still listed, never hidden behind it.

    >>> every("names", [("a", passed("a ok")), ("b", failed("b wrong", "x", "y"))]).message
    'names: b: b wrong'
    """
    if not parts:
        return skipped(f"{what}: nothing to check")
    bad = [(label, v) for label, v in parts if v.outcome in (ERROR, FAILED)]
    if not bad:
        return Verdict(PASSED, f"{what}: " + "; ".join(v.message for _, v in parts),
                       _joined(parts, "expected"), _joined(parts, "found"))
    outcome = ERROR if any(v.outcome == ERROR for _, v in bad) else FAILED
    return Verdict(outcome, f"{what}: " + "; ".join(f"{label}: {v.message}" for label, v in bad),
                   _joined(bad, "expected"), _joined(bad, "found"))


def _joined(parts: Sequence[tuple[str, Verdict]], attr: str) -> str | None:
    values = [(label, getattr(v, attr)) for label, v in parts if getattr(v, attr)]
    if not values:
        return None
    return "; ".join(text if len(parts) == 1 else f"{label}: {text}" for label, text in values)


__all__ = ["at_least", "every"]
