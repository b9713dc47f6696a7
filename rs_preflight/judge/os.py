"""RS-OS-*: the operating system and what runs on it (guide §9.2). Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed

_VERSION = re.compile(r"^\d+(?:\.\d+)*")


def version_tuple(text: str) -> tuple[int, ...] | None:
    """Leading dotted number of a version (``1.8_x86-64`` → (1, 8)); None if there is none."""
    match = _VERSION.match(text.strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else None


def os_supported(os_release: Mapping[str, str], supported: Sequence[Mapping[str, Any]],
                 machine: str | None = None) -> Verdict:
    """Kind ``os_supported`` (RS-OS-01): the distribution is one of ``supported`` at an
    accepted version — and on the rule's ``arch`` (``uname -m``), where it names one."""
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
    if not ok:
        return failed(f"{pretty} is not a supported version of {rule['name']}",
                      _describe(rule), found)
    arch = rule.get("arch")
    if arch and machine != arch:
        return failed(f"{pretty} runs on {machine or 'an unknown architecture'}: "
                      f"{rule['name']} is supported on {arch} only", _describe(rule),
                      f"{found}, {machine or 'unknown'}")
    return passed(f"{pretty} is supported" + (f" ({machine})" if arch else ""), allowed, found)


def _describe(rule: Mapping[str, Any]) -> str:
    arch = f" {rule['arch']}" if rule.get("arch") else ""
    if "major" in rule:
        return f"{rule['name']} {rule['major']}.x{arch}"
    return f"{rule['name']} >= {rule['min']}{arch}"


def no_third_party(processes: Sequence[tuple[str, str]], forbidden: Sequence[str],
                   default_target: str) -> Verdict:
    """RS-OS-02: no display server/manager or antivirus agent running, no graphical target."""
    names = {p.lower() for p in forbidden}
    found = sorted({comm for comm, _ in processes if comm.lower() in names})
    expected = "no graphical environment or antivirus agent"
    if found:
        # Debian and Ubuntu default to graphical.target even without a GUI installed, so the
        # target alone proves nothing; it is named only beside a running display stack.
        target = f" (default target {default_target})" if default_target != "none" else ""
        return failed(f"third-party software on an R-Service host: {', '.join(found)}{target}",
                      expected, ", ".join(found))
    return passed("no graphical environment or antivirus agent runs", expected, "none")


__all__ = ["no_third_party", "os_supported", "version_tuple"]
