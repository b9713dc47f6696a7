"""Judges of the network matrix (RS-PORT-01), free ports (RS-PORT-02), singletons."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.matrix import Flow
from rs_preflight.spec.results import Verdict, error, failed, passed


def flows(flows: Sequence[Flow], probes: Mapping[int, Mapping[str, Any]], limit_s: float
          ) -> Verdict:
    """Every flow open; refused, filtered (timed out) or unreachable fails, saying which.
    A by-name flow whose name did not resolve on its source host was not probed: an error
    saying so (unless another flow definitely failed). Alternatives (``Flow.any_of``: lb → app
    on 443 or 80) need one of them open."""
    bad: list[str] = []
    good: list[str] = []
    unresolved: list[str] = []
    open_groups = {f.any_of for i, f in enumerate(flows)
                   if f.any_of and probes.get(i, {}).get("state") == "open"}
    total = len(flows)
    for i, flow in enumerate(flows):
        probe = probes.get(i, {"state": "not probed", "ms": 0, "error": ""})
        state = probe["state"]
        if flow.any_of in open_groups and state != "open":
            total -= 1
            continue  # another port of the same backend is open: enough
        if state == "unresolved":
            unresolved.append(f"{flow.describe()}: {flow.destination} did not resolve on "
                              f"{flow.source} ({_why_unresolved(probe, limit_s)})")
            continue
        detail = (f"filtered (no answer within {limit_s:g} s)" if state == "filtered" else
                  f"{state} in {probe['ms']} ms" + (f": {probe['error']}" if probe.get("error")
                                                      and state != "open" else ""))
        (good if state == "open" else bad).append(f"{flow.describe()}: {detail}")
    expected = "every flow open"
    if bad:
        also = (f" (and {len(unresolved)} not probed: " + "; ".join(unresolved) + ")"
                if unresolved else "")
        return failed(f"{len(bad)} of {total} flows blocked: " + "; ".join(bad) + also,
                      expected, "; ".join(bad))
    if unresolved:
        return error(f"{len(unresolved)} of {total} flows could not be probed, their "
                     "names did not resolve on the source host: " + "; ".join(unresolved))
    return passed(f"{len(good)} flows open: " + "; ".join(good), expected, "all open")


def _why_unresolved(probe: Mapping[str, Any], limit_s: float) -> str:
    if probe.get("resolve_rc") == 124:  # timeout(1) ended getent
        return f"its resolver did not answer within {limit_s:g} s"
    return str(probe.get("error") or "no address")


def ports_free(needed: Sequence[int], listening: Mapping[int, str]) -> Verdict:
    taken = [f"{p} (by {listening[p] or 'another process'})" for p in needed if p in listening]
    expected = f"ports {', '.join(map(str, needed))} free"
    if taken:
        return failed(f"ports R-Service will listen on are taken: {', '.join(taken)}", expected,
                      ", ".join(taken))
    return passed(f"ports {', '.join(map(str, needed))} are free", expected, "free")


# A container's processes live in a cgroup named after its ID: /docker/<id> (cgroupfs),
# /system.slice/docker-<id>.scope (systemd), containerd, CRI-O, Podman (libpod-<id>).
CONTAINER_ID = re.compile(r"(?:docker|containerd|crio|libpod|lxc)[/-]([0-9a-f]{12,64})")


def is_program(name: str, comm: str, args: str) -> bool:
    """A process is ``name`` by its command name (the kernel keeps 15 characters) or by the
    program it runs (first word of its command line, without the path)."""
    program = args.split(" ", 1)[0].rsplit("/", 1)[-1]
    return comm == name[:15] or program == name


def instances(name: str, processes: Sequence[tuple[str, str, str]],
              containers: Sequence[tuple[str, str]]) -> int:
    """How many times ``name`` runs on one host: a container named after it and the
    processes inside that container are **one** instance (the container's process shows in
    the host's process list too); a process outside any container is one instance.

    ``processes``: ``(cgroup, comm, args)``; ``containers``: ``(ID, name)`` of the running
    ones (empty when Docker does not answer: then each container's processes still count
    once, by the container ID in their cgroup)."""
    seen: set[str] = set()
    for i, (cgroup, comm, args) in enumerate(processes):
        if is_program(name, comm, args):
            match = CONTAINER_ID.search(cgroup)
            seen.add(f"container {match.group(1)[:12]}" if match else f"process {i}")
    for cid, cname in containers:
        if name in cname:
            seen.add(f"container {cid[:12]}")
    return len(seen)


def singletons(names: Sequence[str], running: Mapping[str, Sequence[str]]) -> Verdict:
    """Each singleton runs on exactly one host (``running``: name → hosts it runs on)."""
    problems = []
    for name in names:
        hosts = list(running.get(name, ()))
        if len(hosts) != 1:
            problems.append(f"{name} runs {len(hosts)} times"
                            + (f" ({', '.join(hosts)})" if hosts else ""))
    found = "; ".join(f"{n}: {', '.join(running.get(n, ())) or 'nowhere'}" for n in names)
    if problems:
        return failed("; ".join(problems), "each exactly once", found)
    return passed(f"{', '.join(names)} run exactly once", "each exactly once", found)
