"""RS-PORT-*: the network matrix from each source host, free ports; RS-SINGLETON-01.

Flows are probed on the source host itself (App. 2), so the firewalls between roles count.
"""

from __future__ import annotations

import pytest

from rs_preflight.gather.facts.network import by_flow
from rs_preflight.judge import ports as judge
from rs_preflight.model import Target
from rs_preflight.spec.backends import backends_of
from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.matrix import flows_for
from rs_preflight.spec.results import Verdict, error, skipped


@pytest.mark.kind("network_matrix")
def test_network_matrix(rs: Target) -> Verdict:
    assert rs.host is not None
    flows = flows_for(rs.site, rs.host, rs.params["flows"], rs.phase)
    if not flows:
        return skipped(f"no flow leaves {rs.host.name} ({', '.join(rs.host.roles)}) in phase "
                       f"{rs.phase}")
    return judge.flows(flows, by_flow(flows, rs.facts.get("flows")),
                       float(rs.params["timeout_s"]))


@pytest.mark.kind("ports_free")
def test_ports_free(rs: Target) -> Verdict:
    assert rs.host is not None
    table = rs.params["ports"]
    # plus the port(s) the load balancer is said to use toward this host's roles
    declared = [p for b in backends_of(rs.site, rs.host) if b.declared for p in b.ports]
    needed = sorted({p for role in rs.host.roles for p in table.get(role, ())} | set(declared))
    return judge.ports_free(needed, rs.facts.get("listening"))


@pytest.mark.kind("singletons")
def test_singletons(rs: Target) -> Verdict:
    names = rs.params["singletons"]
    running: dict[str, list[str]] = {n: [] for n in names}
    unreachable = []
    for host in (h for h in rs.site.hosts_with("job", "app", "realtime") if h.reachable):
        try:
            facts = rs.state.facts(host)
            procs = facts.get("process_cgroups")
            containers = facts.get("container_ids")
        except PreflightError:
            unreachable.append(host.name)
            continue
        for name in names:
            # a container and the processes inside it: one instance
            running[name] += [host.name] * judge.instances(name, procs, containers)
    if unreachable:
        return error(f"cannot count singletons: {', '.join(unreachable)} unreachable")
    return judge.singletons(names, running)
