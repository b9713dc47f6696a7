"""What several judges share: a number against its minimum. Pure."""

from __future__ import annotations

from rs_preflight.spec.results import Verdict, failed, passed


def at_least(what: str, found: int | None, minimum: int, note: str = "") -> Verdict:
    """``found`` >= ``minimum``; ``None`` means unlimited (always enough)."""
    shown = "unlimited" if found is None else str(found)
    expected = f">= {minimum}"
    if found is None or found >= minimum:
        return passed(f"{what} is {shown}", expected, shown)
    return failed(f"{what} is {shown}, below {minimum}{note}", expected, shown)


__all__ = ["at_least"]
