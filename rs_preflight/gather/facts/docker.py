"""Facts about Docker: the engine, Compose, daemon.json and the limits containers inherit."""

from __future__ import annotations

import json
from typing import Any

from rs_preflight.gather.facts import FactUnavailable, section
from rs_preflight.spec.redact import clip

NOT_FOUND = 127  # the shell's "command not found"


@section("docker_version", "docker version --format '{{json .}}'", group="docker")
def _docker_version(rc: int, text: str) -> dict[str, Any]:
    """``{"installed", "client", "server", "error"}``; server is None when no daemon answers."""
    if rc == NOT_FOUND:
        return {"installed": False, "client": None, "server": None, "error": text.strip()}
    first = next((line for line in text.splitlines() if line.startswith("{")), "")
    data = json.loads(first) if first else {}
    server = data.get("Server")
    errors = [line for line in text.splitlines() if not line.startswith("{") and line.strip()]
    return {"installed": True, "client": (data.get("Client") or {}).get("Version"),
            "server": (server or {}).get("Version") if server else None,
            "error": clip(" ".join(errors), 300) or None}


# Not in the "docker" group: the Compose plugin answers its version without the daemon (a
# frozen dockerd leaves it judged, whichever daemon question timed out first)
@section("docker_compose", "docker compose version --short")
def _docker_compose(rc: int, text: str) -> dict[str, Any]:
    lines = text.strip().splitlines()
    if rc != 0:  # e.g. "docker: 'compose' is not a docker command."
        return {"version": None, "error": clip(lines[0] if lines else f"exit {rc}", 200)}
    return {"version": lines[-1].strip().lstrip("v"), "error": None}


@section("daemon_json", "if [ -e /etc/docker/daemon.json ]; then cat /etc/docker/daemon.json; "
                        "else echo '@@absent@@'; fi", bounded=True)
def _daemon_json(rc: int, text: str) -> dict[str, Any]:
    """``{"present", "text", "config", "error"}``: a syntax error is kept, with its place."""
    if text.strip() == "@@absent@@":
        return {"present": False, "text": "", "config": {}, "error": None}
    if rc != 0:
        raise FactUnavailable(f"/etc/docker/daemon.json unreadable: {clip(text.strip(), 120)}")
    try:
        config = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return {"present": True, "text": text, "config": None,
                "error": f"line {exc.lineno} column {exc.colno}: {exc.msg}"}
    if not isinstance(config, dict):
        return {"present": True, "text": text, "config": None,
                "error": "the top level is not a JSON object"}
    return {"present": True, "text": text, "config": config, "error": None}


@section("dockerd_limits", "p=$(pgrep -x dockerd | head -n 1); "
                           "if [ -n \"$p\" ]; then grep '^Max open files' /proc/$p/limits; "
                           "else echo '@@not-running@@'; fi", bounded=True)
def _dockerd_limits(rc: int, text: str) -> dict[str, int | None] | None:
    """The running daemon's nofile limits, or None when no dockerd runs."""
    if "@@not-running@@" in text:
        return None
    # "Max open files  1024  524288  files": that line only, whatever else the host printed
    line = next((ln for ln in text.splitlines() if ln.startswith("Max open files")), None)
    if line is None:
        raise FactUnavailable(f"no 'Max open files' line in dockerd's /proc/<pid>/limits: "
                              f"{clip(text.strip(), 120)}")
    soft, hard = line.split()[3:5]
    return {"soft": None if soft == "unlimited" else int(soft),
            "hard": None if hard == "unlimited" else int(hard)}


@section("docker_systemd", "systemctl show docker.service -p LimitNOFILE -p LimitNOFILESoft "
                           "2>/dev/null; true")
def _docker_systemd(rc: int, text: str) -> dict[str, int | None]:
    """systemd's LimitNOFILE for docker.service (empty without systemd)."""
    out: dict[str, int | None] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("LimitNOFILE", "LimitNOFILESoft") and value:
            out[key] = None if value == "infinity" else int(value)
    return out


@section("containers", "docker ps --format '{{.Names}}' 2>/dev/null; true", group="docker")
def _containers(rc: int, text: str) -> list[str]:
    """Names of running containers (empty without Docker or the rights to ask it)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


@section("container_ids", "docker ps --no-trunc --format '{{.ID}} {{.Names}}' 2>/dev/null; true",
         group="docker")
def _container_ids(rc: int, text: str) -> list[tuple[str, str]]:
    """``[(full ID, name)]`` of running containers (empty without Docker or the rights)."""
    out = []
    for line in text.splitlines():
        cid, _, name = line.strip().partition(" ")
        if cid and name:
            out.append((cid, name.strip()))
    return out
