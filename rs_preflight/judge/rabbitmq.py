"""Judge of a RabbitMQ cluster over a role's hosts (seeds/001, "Базы данных": RabbitMQ ×2,
clustered): every host is a node of one cluster, and every node is running.

Each host's management API says which cluster it belongs to and how it sees every node
(``/api/nodes``: ``name``, ``running``). A node is a host's when the part after ``@`` names it
(its name, fqdn, the first label of either, its names, or its address: RabbitMQ's default node
name is ``rabbit@<short host name>``; long names give the fqdn or an address).

>>> from rs_preflight.gather.probes.records import RabbitView
>>> hosts = [Host("db1", "192.0.2.41", ("db",)), Host("db2", "192.0.2.42", ("db",))]
>>> both = (("rabbit@db1", True), ("rabbit@db2", True))
>>> cluster(hosts, {"db1": RabbitView("192.0.2.41:15672", "rabbit@db1", "c", both),
...                 "db2": "connection refused"}).outcome
'passed'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rs_preflight.gather.probes.records import RabbitView
from rs_preflight.spec.hosts import Host, host_called
from rs_preflight.spec.results import Verdict, error, failed, passed


def _node_of(view: RabbitView, host: Host) -> tuple[str, bool] | None:
    """``host``'s node in ``view`` (name, running), or None."""
    return next(((name, up) for name, up in view.nodes
                 if host_called(name.partition("@")[2] or name, [host]) is not None), None)


def _nodes(view: RabbitView) -> str:
    return ", ".join(f"{n} {'running' if up else 'not running'}" for n, up in view.nodes) \
        or "none"


def cluster(hosts: Sequence[Host], seen: Mapping[str, RabbitView | str]) -> Verdict:
    """Every host of ``hosts`` is a node of the cluster each answering host belongs to, and no
    answering host sees one of them not running. ``seen``: each host's view, or why its
    management API did not answer (tolerated while another answers for its node)."""
    views = {h.name: v for h in hosts if isinstance(v := seen.get(h.name), RabbitView)}
    silent = [f"{h.name}: {seen.get(h.name)}" for h in hosts if h.name not in views]
    if not views:
        return error(f"no RabbitMQ management API answered ({'; '.join(silent)})")
    want = f"one cluster of {', '.join(h.name for h in hosts)}, every node running"
    found = "; ".join(sorted({f"cluster {v.cluster_name}: {_nodes(v)}"
                              for v in views.values()}))
    apart: list[str] = []
    stopped: dict[str, str] = {}
    for asked, view in views.items():
        outside = [h.name for h in hosts if _node_of(view, h) is None]
        if outside:
            apart.append(f"{', '.join(outside)} not in the cluster {asked} belongs to "
                         f"(cluster_name {view.cluster_name}; nodes "
                         f"{', '.join(n for n, _ in view.nodes)})")
        for h in hosts:
            node = _node_of(view, h)
            if node is not None and not node[1]:
                stopped.setdefault(h.name, f"{node[0]} ({h.name}) is not running, as "
                                           f"{asked}'s management API says")
    note = f" (no answer from {'; '.join(silent)})" if silent else ""
    if apart or stopped:
        parts = ([f"not one cluster: {'; '.join(apart)}"] if apart else []) + \
            ([f"node {'; node '.join(stopped.values())}"] if stopped else [])
        return failed(f"RabbitMQ {' — '.join(parts)}{note}", want, found)
    return passed(f"{found}{note}", want, found)


__all__ = ["cluster"]
