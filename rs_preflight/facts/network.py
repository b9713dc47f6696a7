"""Facts about the network as each host sees it: listening ports, flows it opens, the share.

Flows are probed *from the host* (bash's /dev/tcp under ``timeout``), so firewalls between
roles show up as they will for R-Service. Destinations come from the site description and
the .env files: every one of them is quoted with ``shlex.quote``.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from ..matrix import flows_for
from ..redact import clip
from . import Context, FactUnavailable, section

TIMEOUT_EXIT = 124  # timeout(1): the command timed out


@section("listening", "ss -Hltnp 2>/dev/null || ss -Hltn")
def _listening(rc: int, text: str) -> dict[int, str]:
    """``{port: process}`` of TCP listeners (process is empty without the rights to see it)."""
    if rc != 0:
        raise FactUnavailable(f"ss failed (exit {rc}): {clip(text.strip(), 120)}")
    out: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        port = parts[3].rpartition(":")[2]
        proc = ""
        if "users:((" in line:
            proc = line.split('users:(("', 1)[1].split('"', 1)[0]
        if port.isdigit():
            out.setdefault(int(port), proc)
    return out


def _flows_command(ctx: Context) -> str:
    implementing = ctx.catalogue.implementing("RS-PORT-01")
    if not implementing:  # this catalogue has no network matrix
        return "echo NOFLOWS"
    table = implementing[0].thresholds
    flows = flows_for(ctx.site, ctx.host, table["flows"], ctx.site.phase)
    limit = int(table.get("timeout_s", 3))
    lines = ["command -v bash >/dev/null || { echo 'NOBASH'; exit 0; }"]
    for i, flow in enumerate(flows):
        dest, port = shlex.quote(flow.destination), shlex.quote(str(flow.port))
        # every probe in the background, so the section takes one probe timeout, not n
        lines.append(
            f"( t0=$(date +%s%N); e=$(timeout {limit} bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' "
            f"{dest} {port} 2>&1); r=$?; t1=$(date +%s%N); "
            f"printf 'FLOW {i} %s %s\\nERR {i} %s\\n' \"$r\" \"$(( (t1 - t0) / 1000000 ))\" "
            f"\"$(printf '%s' \"$e\" | tail -n 1)\" ) &")
    lines.append("wait")
    return "\n".join(lines) if flows else "echo NOFLOWS"


@section("flows", _flows_command, bounded=True)
def _flows(rc: int, text: str) -> dict[int, dict[str, Any]]:
    """``{flow index: {"state": open|refused|filtered|unreachable|unresolved, "ms", "error"}}``."""
    if "NOBASH" in text:
        raise FactUnavailable("bash is not installed: flows are probed with bash's /dev/tcp")
    out: dict[int, dict[str, Any]] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "FLOW":
            idx, code, ms = rest.split()
            out[int(idx)] = {"rc": int(code), "ms": int(ms), "error": ""}
        elif kind == "ERR":
            idx, _, err = rest.partition(" ")
            out.setdefault(int(idx), {"rc": 1, "ms": 0})["error"] = err.strip()
    for probe in out.values():
        probe["state"] = _state(probe["rc"], probe["error"])
    return out


def _state(rc: int, error: str) -> str:
    if rc == 0:
        return "open"
    if rc == TIMEOUT_EXIT:
        return "filtered"
    low = error.lower()
    if "refused" in low:
        return "refused"
    if "not known" in low or "resolv" in low or "name" in low:
        return "unresolved"
    return "unreachable"


def _storage_command(ctx: Context) -> str:
    if not ctx.site.storage_path:
        return "echo '@@none@@'"
    path = shlex.quote(ctx.site.storage_path)
    return (f"p={path}; findmnt -J -T \"$p\" -o TARGET,SOURCE,FSTYPE; echo @@access@@; "
            "if [ -d \"$p\" ]; then if [ -w \"$p\" ]; then echo writable; "
            "else echo read-only; fi; else echo missing; fi")


@section("storage", _storage_command)
def _storage(rc: int, text: str) -> dict[str, Any] | None:
    """``{"target", "source", "fstype", "access"}`` of the filesystem holding the share path."""
    if "@@none@@" in text:
        return None
    mount_text, _, access = text.partition("@@access@@")
    access = access.strip()
    if access == "missing":
        return {"target": None, "source": None, "fstype": None, "access": "missing"}
    fs = (json.loads(mount_text).get("filesystems") or [{}])[0]
    return {"target": fs.get("target"), "source": fs.get("source"),
            "fstype": fs.get("fstype"), "access": access}
