"""RS-LIMIT-*: open-file limits, as a login session and as the containers get them (§9.4). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rs_preflight.judge.common import at_least
from rs_preflight.spec.results import FAILED, PASSED, Verdict, passed


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


__all__ = ["container_nofile", "nofile_views"]
