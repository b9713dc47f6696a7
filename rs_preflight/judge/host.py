"""Judges: small pure functions from facts and thresholds to a ``Verdict``.

No I/O here, no pytest: every judge is a unit test away from its truth table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import FAILED, PASSED, Verdict, error, failed, passed

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


def nofile_views(kind: str, login: int | None, container: tuple[int | None, str] | None,
                 minimum: int, note: str = "") -> Verdict:
    """RS-LIMIT-*: the login session's limit and the one containers will get, both >= minimum.

    ``container`` is (limit, where it comes from), or None before Docker is installed.
    """
    parts = [at_least(f"login session nofile {kind} limit", login, minimum, note)]
    if container is not None:
        value, origin = container
        parts.append(at_least(f"containers' nofile {kind} limit ({origin})", value, minimum,
                              note))
    bad = [v for v in parts if v.outcome != PASSED]
    if bad:
        return Verdict(FAILED, "; ".join(v.message for v in bad), f">= {minimum}",
                       "; ".join(f"{v.message.split(' is ')[0]}: {v.found}" for v in bad))
    return passed("; ".join(v.message for v in parts), f">= {minimum}",
                  ", ".join(v.found or "" for v in parts))


def container_nofile(kind: str, daemon_config: Mapping[str, Any] | None,
                     dockerd: Mapping[str, int | None] | None,
                     systemd: Mapping[str, int | None]) -> tuple[int | None, str] | None:
    """The nofile limit R-Service's containers inherit: daemon.json ``default-ulimits``,
    else the running dockerd's own limit, else systemd's ``LimitNOFILE`` for docker.service."""
    ulimits = ((daemon_config or {}).get("default-ulimits") or {}).get("nofile")
    if isinstance(ulimits, Mapping) and ("Soft" in ulimits or "Hard" in ulimits):
        value = ulimits.get("Soft" if kind == "soft" else "Hard")
        return (int(value) if value is not None else None,
                "daemon.json default-ulimits")
    if dockerd is not None:
        return dockerd[kind], "/proc/<dockerd>/limits"
    key = "LimitNOFILESoft" if kind == "soft" else "LimitNOFILE"
    if key in systemd:
        return systemd[key], f"systemd {key} of docker.service"
    return None
