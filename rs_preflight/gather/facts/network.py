"""Facts about the network as each host sees it: listening ports, flows it opens, the share.

Flows are probed *from the host* (bash's /dev/tcp under ``timeout``), so firewalls between
roles show up as they will for R-Service. Destinations come from the site description and
the .env files: every one of them is quoted with ``shlex.quote``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.gather.facts import Context, FactUnavailable, section
from rs_preflight.spec.addresses import is_ip
from rs_preflight.spec.matrix import Flow, flows_for
from rs_preflight.spec.redact import clip

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
    """Every flow leaving this host in any flow table the selected requirements ask for
    (``network_matrix`` requirements, need ``flow_tables``), each (destination, port) once."""
    wanted: dict[tuple[str, int], None] = {}
    limit = 0
    for table in ctx.needs.get("flow_tables", ()):
        for flow in flows_for(ctx.site, ctx.host, table["flows"], ctx.site.phase):
            wanted[(flow.destination, flow.port)] = None
        limit = max(limit, int(table.get("timeout_s") or 3))
    if not wanted:  # no flow table, or no flow leaves this host
        return "echo NOFLOWS"
    lines = ["command -v bash >/dev/null || { echo 'NOBASH'; exit 0; }",
             "command -v getent >/dev/null && rs_getent=1 || rs_getent="]
    for i, (destination, number) in enumerate(wanted):
        dest, port = shlex.quote(destination), shlex.quote(str(number))
        # which flow index i is: TO <i> <port> <destination> (the destination last: any text)
        lines.append(f"printf 'TO {i} %s %s\\n' {port} {dest}")
        # A name is resolved first, on its own clock, by the host's resolver (getent: the same
        # getaddrinfo bash uses): a name that does not resolve there is told apart from a port
        # that does not answer (rc "R<getent exit>": 2 not found, 124 no answer in time).
        resolve = "" if is_ip(destination) else (
            f"if [ -n \"$rs_getent\" ]; then timeout {limit} getent ahosts {dest} >/dev/null "
            f"2>&1; g=$?; [ $g -ne 0 ] && r=R$g; fi; ")
        # every probe in the background, so the section takes one probe timeout, not n
        lines.append(
            f"( t0=$(date +%s%N); r=; e=; {resolve}if [ -z \"$r\" ]; then "
            f"e=$(timeout {limit} bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' "
            f"{dest} {port} 2>&1); r=$?; fi; t1=$(date +%s%N); "
            f"printf 'FLOW {i} %s %s\\nERR {i} %s\\n' \"$r\" \"$(( (t1 - t0) / 1000000 ))\" "
            f"\"$(printf '%s' \"$e\" | tail -n 1)\" ) &")
    lines.append("wait")
    return "\n".join(lines)


@section("flows", _flows_command, bounded=True)
def _flows(rc: int, text: str) -> dict[tuple[str, int], dict[str, Any]]:
    """``{(destination, port): {"state": open|refused|filtered|unreachable|unresolved, "ms",
    "error"}}``; ``unresolved``: the name did not resolve on the host (``resolve_rc``:
    getent's exit). ``by_flow`` maps it onto one requirement's list of flows."""
    if "NOBASH" in text:
        raise FactUnavailable("bash is not installed: flows are probed with bash's /dev/tcp")
    out: dict[int, dict[str, Any]] = {}
    where: dict[int, tuple[str, int]] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "TO":
            idx, port, dest = rest.split(" ", 2)
            where[int(idx)] = (dest, int(port))
        elif kind == "FLOW":
            idx, code, ms = rest.split()
            if code.startswith("R"):  # the name did not resolve on the host (getent's exit)
                out[int(idx)] = {"rc": -1, "ms": int(ms), "error": "", "resolve_rc": int(code[1:])}
            else:
                out[int(idx)] = {"rc": int(code), "ms": int(ms), "error": ""}
        elif kind == "ERR":
            idx, _, err = rest.partition(" ")
            out.setdefault(int(idx), {"rc": 1, "ms": 0})["error"] = err.strip()
    for probe in out.values():
        if "resolve_rc" in probe:
            probe["state"] = "unresolved"
            probe["error"] = _unresolved(probe["resolve_rc"])
        else:
            probe["state"] = _state(probe["rc"], probe["error"])
    return {where[i]: probe for i, probe in out.items() if i in where}


def by_flow(flows: Sequence[Flow], probes: Mapping[tuple[str, int], Mapping[str, Any]]
            ) -> dict[int, Mapping[str, Any]]:
    """The ``flows`` fact as ``{index in flows: probe}`` (what the flows judge reads)."""
    return {i: probes[(f.destination, f.port)] for i, f in enumerate(flows)
            if (f.destination, f.port) in probes}


def _unresolved(getent_rc: int) -> str:
    """What getent(1)'s exit says (man getent: 2 = key not found; timeout(1): 124)."""
    if getent_rc == TIMEOUT_EXIT:
        return "the host's resolver did not answer in time"
    if getent_rc == 2:
        return "the name does not resolve on the host"
    return f"the name could not be resolved on the host (getent exit {getent_rc})"


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
