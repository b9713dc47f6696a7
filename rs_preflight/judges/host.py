"""Judges: small pure functions from facts and thresholds to a ``Verdict``.

No I/O here, no pytest: every judge is a unit test away from its truth table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..results import Verdict, error, failed, passed

_VERSION = re.compile(r"^\d+(?:\.\d+)*")


def version_tuple(text: str) -> tuple[int, ...] | None:
    """Leading dotted number of a version (``1.8_x86-64`` → (1, 8)); None if there is none."""
    match = _VERSION.match(text.strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else None


def os_supported(os_release: Mapping[str, str], supported: Sequence[Mapping[str, Any]]) -> Verdict:
    """RS-OS-01: the distribution is one of ``supported`` at an accepted version."""
    os_id = os_release.get("ID", "").lower()
    raw_version = os_release.get("VERSION_ID", "")
    pretty = os_release.get("PRETTY_NAME") or f"{os_id} {raw_version}".strip() or "unknown"
    allowed = "; ".join(_describe(s) for s in supported)
    found = f"{pretty} (ID={os_id or '?'}, VERSION_ID={raw_version or '?'})"
    rule = next((s for s in supported if s["id"] == os_id), None)
    if rule is None:
        return failed(f"{pretty} is not a supported operating system", allowed, found)
    version = version_tuple(raw_version)
    if version is None:
        return failed(f"cannot tell the version of {pretty}", allowed, found)
    if "major" in rule:
        ok = version[0] == int(rule["major"])
    else:
        minimum = version_tuple(str(rule["min"])) or ()
        ok = version >= minimum
    if ok:
        return passed(f"{pretty} is supported", allowed, found)
    return failed(f"{pretty} is not a supported version of {rule['name']}", _describe(rule), found)


def _describe(rule: Mapping[str, Any]) -> str:
    if "major" in rule:
        return f"{rule['name']} {rule['major']}.x"
    return f"{rule['name']} >= {rule['min']}"


def at_least(what: str, found: int | None, minimum: int, note: str = "") -> Verdict:
    """``found`` >= ``minimum``; ``None`` means unlimited (always enough)."""
    shown = "unlimited" if found is None else str(found)
    expected = f">= {minimum}"
    if found is None or found >= minimum:
        return passed(f"{what} is {shown}", expected, shown)
    return failed(f"{what} is {shown}, below {minimum}{note}", expected, shown)


def sysctl_at_least(key: str, runtime: Mapping[str, int | None],
                    persisted: Mapping[str, tuple[str, str]], minimum: int,
                    note: str = "") -> Verdict:
    """RS-SYSCTL-*: runtime value >= minimum; say whether (and where) it is persisted."""
    if key not in runtime or runtime[key] is None:
        return error(f"{key} could not be read (/proc/sys/{key.replace('.', '/')})")
    value = runtime[key]
    where = persisted.get(key)
    persist = (f"persisted as {where[0]} in {where[1]}" if where
               else "not persisted in /etc/sysctl.conf or /etc/sysctl.d/")
    verdict = at_least(key, value, minimum, note)
    return Verdict(verdict.outcome, f"{verdict.message}; {persist}", verdict.expected,
                   verdict.found)
