"""Version numbers as catalogues give ranges of them: ``{min: "3.0", below: "4"}`` accepts
3.0 ≤ v < 4. A version is read from its leading digits (``v3.0.1``, ``7.0.15``, ``3.10.8-1``).

>>> in_range("v3.0", {"min": "3.0", "below": "4"}), in_range("4.1", {"below": "4"})
(True, False)
>>> range_text({"min": "13", "below": "18"})
'>= 13, < 18'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_LEADING = re.compile(r"^[vV]?(\d+(?:\.\d+)*)")


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """``"v3.10.8-1"`` → (3, 10, 8); None when it does not start with a number."""
    match = _LEADING.match(str(text or "").strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Compare on the parts both give: 3.10.8 is within "3.10" and "3"."""
    n = min(len(a), len(b))
    return (a[:n] > b[:n]) - (a[:n] < b[:n])


def in_range(version: str | None, bounds: Mapping[str, str]) -> bool:
    """``version`` is at least ``min`` and below ``below`` (either may be absent)."""
    found = parse_version(version)
    if found is None:
        return False
    low, high = parse_version(bounds.get("min")), parse_version(bounds.get("below"))
    if low is not None and _cmp(found, low) < 0:
        return False
    return not (high is not None and (_cmp(found, high) >= 0))


def range_text(bounds: Mapping[str, str]) -> str:
    parts = []
    if bounds.get("min"):
        parts.append(f">= {bounds['min']}")
    if bounds.get("below"):
        parts.append(f"< {bounds['below']}")
    return ", ".join(parts) or "any"


__all__ = ["in_range", "parse_version", "range_text"]
