"""RS-OS-*: the operating system and what runs on it (guide §9.2). Pure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, error, failed, passed, skipped

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


def end_of_life(os_release: Mapping[str, str], releases: Sequence[Mapping[str, Any]],
                today: dt.date) -> Verdict:
    """Kind ``os_end_of_life`` (VOIP-OS-02): the release has not reached its vendor's end of
    life. ``today`` is the run's date (the caller's clock, so tests give their own).

    A release (ID + VERSION_ID) matches the entry of its ID whose ``version`` is its
    VERSION_ID or a leading part of it (``7`` matches 7.9; ``20.04`` matches 20.04), the
    longest first. A release the list does not name is *skipped*: the catalogue gives no date
    to judge it by, and a date made up here would be a guess (passed would claim a check
    nobody made, an error would fail the gate for every release the list leaves out).

    >>> end_of_life({"ID": "centos", "VERSION_ID": "7"}, [{"id": "centos", "version": "7",
    ...     "name": "CentOS Linux 7", "eol": "2024-06-30"}], dt.date(2026, 12, 2)).message
    'CentOS Linux 7 reached its end of life on 2024-06-30 (885 days ago): no security updates'
    """
    os_id = os_release.get("ID", "").lower()
    version = os_release.get("VERSION_ID", "")
    pretty = os_release.get("PRETTY_NAME") or f"{os_id} {version}".strip() or "unknown"
    found = f"{pretty} (ID={os_id or '?'}, VERSION_ID={version or '?'}), today {today}"
    if not os_id:
        return error(f"cannot tell the release: /etc/os-release has no ID ({pretty})")
    rule = _release_rule(os_id, version, releases)
    if rule is None:
        known = ", ".join(dict.fromkeys(str(r["name"]) for r in releases)) or "none"
        return skipped(f"no end-of-life date known for {pretty} (ID={os_id}, "
                       f"VERSION_ID={version or '?'}): the requirement's releases are {known}")
    eol = dt.date.fromisoformat(str(rule["eol"]))
    name = rule["name"]
    expected = f"a release before its end of life ({name}: {eol})"
    days = (today - eol).days
    if days >= 0:
        ago = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
        return failed(f"{name} reached its end of life on {eol} ({ago}): no security updates",
                      expected, found)
    left = -days
    return passed(f"{name} is supported by its vendor until {eol} "
                  f"({left} day{'s' if left != 1 else ''} left)", expected, found)


def _release_rule(os_id: str, version: str, releases: Sequence[Mapping[str, Any]]
                  ) -> Mapping[str, Any] | None:
    """The entry of ``os_id`` whose version is ``version`` or a dotted prefix of it."""
    fits = [r for r in releases if str(r["id"]).lower() == os_id
            and (version == str(r["version"]) or version.startswith(f"{r['version']}."))]
    return max(fits, key=lambda r: len(str(r["version"])), default=None)


__all__ = ["end_of_life", "no_third_party", "os_supported", "version_tuple"]
