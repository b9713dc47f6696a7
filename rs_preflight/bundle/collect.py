"""Collecting from every host in parallel: one round trip each, a host down is one reason.

>>> hosts = collect_site(site, catalogue, limits)      # {name: HostCollection}
>>> hosts["app1"].status, len(hosts["app1"].frames)
('collected', 41)
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from rs_preflight.bundle import items as it
from rs_preflight.bundle import product
from rs_preflight.bundle.options import Limits
from rs_preflight.gather.access import Connections, run_with_input
from rs_preflight.gather.facts import SECTIONS, Context, FactUnavailable
from rs_preflight.spec.catalogue import Catalogue
from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.kinds import needs_for
from rs_preflight.spec.site import Host, Site

PARALLEL_HOSTS = 16
DOCKER_KIND = "docker_engine"  # the roles of its requirements are the hosts that run Docker


@dataclass
class HostCollection:
    host: str
    roles: tuple[str, ...]
    status: str                      # collected | partial | unreachable | skipped
    reason: str | None = None
    frames: list[it.Frame] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    missing: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    round_trips: int = 0


def docker_roles(catalogue: Catalogue) -> set[str]:
    reqs = catalogue.of_kind(DOCKER_KIND)
    return {r for req in reqs for r in req.roles} if reqs else {"app", "job", "realtime",
                                                                 "search"}


def collect_site(site: Site, catalogue: Catalogue, limits: Limits) -> dict[str, HostCollection]:
    """Every host's items; never raises for a host."""
    # ssh.command_timeout bounds one command; the bundle's one command is the host's script,
    # which ends itself at host_timeout on the host: allow that, plus the way back.
    ssh = dataclasses.replace(site.ssh, command_timeout=limits.host_timeout + 30)
    connections = Connections(dataclasses.replace(site, ssh=ssh))
    droles = docker_roles(catalogue)
    try:
        hosts = list(site.hosts)
        workers = max(1, min(PARALLEL_HOSTS, len(hosts)))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            done = pool.map(lambda h: collect_host(connections, site, h, catalogue, limits,
                                                   droles), hosts)
            return {h.name: got for h, got in zip(hosts, done, strict=True)}
    finally:
        connections.close()


def new_marker() -> str:
    """The frames' marker: random per host and run (tests replace it to forge frames)."""
    return f"@@rs-bundle-{secrets.token_hex(6)}@@"


def collect_host(connections: Connections, site: Site, host: Host, catalogue: Catalogue,
                 limits: Limits, droles: set[str]) -> HostCollection:
    out = HostCollection(host.name, host.roles, "collected")
    if not host.reachable:
        out.status, out.reason = "skipped", "checked over the network only (ssh: false)"
        return out
    docker = bool(droles & set(host.roles))
    marker = new_marker()
    items = it.static_items(limits.since) + _product_items(catalogue, host, limits)
    script = it.build_script(marker, items, it.FACTS,
                             ctx=Context(site, host, needs_for(catalogue.values())),
                             item_timeout=limits.item_timeout,
                             max_item_bytes=limits.max_item_bytes, log_lines=limits.log_lines,
                             max_containers=limits.max_containers, docker=docker)
    started = time.monotonic()
    try:
        thost = connections.get(host)
        stdout = run_with_input(thost, it.remote_command(limits.host_timeout,
                                                         limits.max_host_bytes),
                                script.encode(), limits.host_timeout + 30)
    except PreflightError as exc:
        out.status, out.reason = "unreachable", str(exc)
        return out
    except Exception as exc:  # a backend's own error: this host only, said plainly
        out.status, out.reason = "unreachable", f"{type(exc).__name__}: {exc}"
        return out
    finally:
        out.seconds = round(time.monotonic() - started, 3)
    out.round_trips = 1
    frames = it.parse(stdout, marker, limits.max_item_bytes)
    sources = {i.path: i.shown for i in items}
    for frame in frames:
        frame.source = frame.source or sources.get(frame.path, "")
    _sort(out, frames, limits)
    _expected(out, frames, docker, limits)
    return out


def _product_items(catalogue: Catalogue, host: Host, limits: Limits) -> list[it.Item]:
    """What the catalogue's product asks support to be sent, on the hosts of its roles."""
    diag = product.diagnostics(catalogue.bundle)
    if diag is None or not set(diag.roles) & set(host.roles):
        return []
    return product.product_items(diag, limits.log_lines)


def _sort(out: HostCollection, frames: list[it.Frame], limits: Limits) -> None:
    """Facts into ``facts``, items into ``frames``, what is missing (and why) into ``missing``.
    A frame the script never asked for (or a second one of the same name) was printed by
    something on the host: dropped, and said."""
    seen: set[str] = set()
    for frame in frames:
        if not it.allowed_path(frame.path) or frame.path in seen:
            out.missing.append({"item": "?", "reason": "dropped a frame the collector did not "
                                "ask for (printed by something on the host)"})
            continue
        seen.add(frame.path)
        if frame.path == "processes/rservice.txt":
            frame.data = it.escape_command_lines(frame.data.decode(
                "utf-8", errors="replace")).encode()
        text = frame.data.decode("utf-8", errors="replace")
        if frame.path.startswith("@fact/"):
            _fact(out, frame.path[6:], frame.rc, text)
            continue
        if frame.path == "containers/more.txt":
            out.missing.append({"item": "containers/", "reason": f"more than "
                                f"{limits.max_containers} containers: the rest were not read"})
            continue
        reason = _missing_reason(frame, text, limits)
        if reason is not None:
            out.missing.append({"item": frame.path, "reason": reason})
        if frame.rc not in (it.NOT_FOUND, it.ABSENT):
            out.frames.append(frame)


def _missing_reason(frame: it.Frame, text: str, limits: Limits) -> str | None:
    if frame.rc == it.NOT_FOUND:
        return f"not available: {(text.strip().splitlines() or ['command not found'])[-1]}"
    if frame.rc == it.ABSENT:
        return f"not present: {frame.source or frame.path} does not exist"
    if frame.rc in it.TIMED_OUT:
        return (text.strip() if text.startswith("skipped:") else
                f"timed out after {limits.item_timeout:g}s (item timeout); partial output kept")
    if frame.rc is None:
        return "incomplete: the host's time or size budget ran out during this item"
    return None


def _fact(out: HostCollection, name: str, rc: int | None, text: str) -> None:
    if rc is None:
        out.facts[name] = {"error": "incomplete"}
        return
    try:
        out.facts[name] = json.loads(json.dumps(SECTIONS[name].parse(rc, text), default=str))
    except FactUnavailable as exc:
        out.facts[name] = {"error": str(exc)}
    except (ValueError, KeyError, IndexError) as exc:
        out.facts[name] = {"error": f"unexpected output ({exc})"}


def _expected(out: HostCollection, frames: list[it.Frame], docker: bool, limits: Limits
              ) -> None:
    """Items that never came back (the host's size cap or time budget): said, by name."""
    seen = {f.path for f in frames}
    wanted = [i.path for i in it.static_items(limits.since) if docker or not i.docker]
    lost = [p for p in wanted if p not in seen]
    for path in lost:
        out.missing.append({"item": path, "reason": "not collected: the host's time budget "
                            f"({limits.host_timeout:g}s) or size cap "
                            f"({limits.max_host_bytes} bytes) ran out before it"})
    if lost or any(f.rc is None for f in frames):
        out.status = "partial"
