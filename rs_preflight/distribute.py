"""pytest-xdist as rs-preflight's engine: hosts spread over the workers, each gathered once.

With ``-n N`` (or ``--tx``) the plugin's scheduler, ``HostScheduling``, makes one work unit
of each host — every check whose node id ends in ``[…@app1]`` — and deals the host units out
to the workers at the start, balanced by their number of checks. Each worker learns its share
of hosts before its first check and gathers exactly that share once, in parallel
(``RunState.facts``): no host is gathered by two workers. Site-level checks, and the checks
marked ``rs_one_worker`` (an active probe shared by hosts, like the shared-folder probe, or a
comparison of hosts, like RS-TIME-02), stay together per module on one worker and are handed
out as workers free up (``--dist loadscope`` by module): the mail round trip, the header
listeners and the shared-folder probe run once per run, as in a serial run.

A check that reads a host another worker gathered gets that host's facts *relayed* through
the controller, not gathered again. Each worker has a link to the controller: an execnet
channel made by the controller for that worker and handed over in ``workerinput``. Messages on
a link are tuples of plain values; facts travel pickled and compressed, and only between the
processes of one run (the controller that started the workers, and them):

- worker → controller: ``("together", [function ids])`` once, after collection (the checks
  marked ``rs_one_worker``: the controller collects nothing itself); ``("want", [hosts])``;
  ``("facts", {host: pickle})``; ``("none", [hosts])`` (asked for, never gathered here);
- controller → worker: ``("share", [hosts])`` before their checks; ``("give", [hosts])``;
  ``("facts", {host: pickle})``; ``("yours", [hosts])`` (nobody gathers it: gather it here).

Only a want for a host nobody owns, a worker that crashed, or a relay that never comes within
the bound (``relay_wait``) makes a worker gather a host itself: results stay right, the round
trips say so. Under another ``--dist`` mode (the user's choice) none of this runs: each worker
gathers every host it needs itself, as before.
"""

from __future__ import annotations

import functools
import logging
import math
import pickle
import threading
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

from rs_preflight.gather.facts import HostFacts
from rs_preflight.report.completeness import NO_HOST_ID
from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.site import Site

LINK = "rs_link"  # the workerinput key of a worker's link to the controller
ONE_WORKER = "rs_one_worker"  # the marker: every item of this check on one worker
Gathered = HostFacts | PreflightError
log = logging.getLogger("rs_preflight")


def host_of(nodeid: str) -> str | None:
    """The host of a per-host check's node id (``…[RS-OS-01@app1]`` → ``app1``), else None."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    _, sep, host = nodeid[nodeid.rindex("[") + 1:-1].partition("@")
    return host if sep and host and host != NO_HOST_ID else None


def function_of(nodeid: str) -> str:
    """The check function's id: the node id without its parameter."""
    return nodeid[:nodeid.rindex("[")] if nodeid.endswith("]") and "[" in nodeid else nodeid


def relay_wait(site: Site, parallel: int) -> float:
    """How long a worker waits for another worker's host before gathering it itself: what
    gathering the whole site may take at worst (every connect and command to its timeout),
    plus a minute. A safety bound: a relay normally comes within the owner's gather."""
    rounds = math.ceil(max(1, len(site.hosts)) / max(1, parallel))
    return rounds * (site.ssh.connect_timeout + site.ssh.command_timeout) + 60


# -- the controller ------------------------------------------------------------------------


class Hub:
    """The controller's ends of the links: who owns which host, and the facts relayed."""

    def __init__(self) -> None:
        self._links: dict[str, Any] = {}  # worker id → execnet channel
        self._owner: dict[str, str] = {}  # host → the worker whose share it is
        self._blobs: dict[str, bytes] = {}  # host → its pickled facts, once relayed
        self._waiting: dict[str, list[str]] = {}  # host → workers that want it
        self._asked: set[str] = set()
        self._gone: set[str] = set()
        self._lock = threading.Lock()
        self.together: frozenset[str] = frozenset()
        self._told = False

    def attach(self, node: WorkerController) -> None:
        """Make ``node``'s link (before it starts: it travels in ``workerinput``)."""
        wid = node.gateway.id
        channel = node.gateway.newchannel()
        channel.setcallback(functools.partial(self._receive, wid))
        node.workerinput[LINK] = channel
        self._links[wid] = channel

    def share(self, node: WorkerController, hosts: Sequence[str]) -> None:
        """``hosts`` are ``node``'s: it gathers them, and gives them to whoever wants them."""
        wid = node.gateway.id
        with self._lock:
            for host in hosts:
                self._owner[host] = wid
            self._send(wid, "share", list(hosts))

    def collect(self, node: WorkerController) -> None:
        """``node`` is about to end while checks that may read its hosts have not run yet: its
        hosts' facts come here first (a worker's facts end with it)."""
        wid = node.gateway.id
        with self._lock:
            hosts = [h for h, w in self._owner.items() if w == wid and h not in self._blobs
                     and h not in self._asked]
            self._asked.update(hosts)
            if hosts:
                self._send(wid, "give", hosts)

    def down(self, node: WorkerController) -> None:
        """``node`` ended or crashed: who waits for its hosts gathers them."""
        wid = node.gateway.id
        with self._lock:
            self._gone.add(wid)
            self._yours([h for h, w in self._owner.items() if w == wid and h not in self._blobs])

    def _send(self, wid: str, kind: str, data: Any) -> None:
        channel = self._links.get(wid)
        if channel is None or wid in self._gone:
            return
        try:
            channel.send((kind, data))
        except (OSError, EOFError, ValueError) as exc:  # the worker is gone (closed channel)
            log.debug("rs link to %s: %s", wid, exc)

    def _receive(self, wid: str, message: tuple[str, Any]) -> None:
        """A worker's message (in execnet's receiver thread: quick, and never raising)."""
        try:
            kind, data = message
            with self._lock:
                if kind == "together" and not self._told:
                    self.together, self._told = frozenset(data), True
                elif kind == "want":
                    self._want(wid, list(data))
                elif kind == "facts":
                    self._relay(dict(data))
                elif kind == "none":
                    for host in data:
                        self._owner.pop(host, None)
                    self._yours(list(data))
        except Exception:  # a callback that raises closes the link: say it, keep going
            log.exception("rs link from %s: cannot handle %r", wid, type(message))

    def _want(self, wid: str, hosts: list[str]) -> None:
        ready: dict[str, bytes] = {}
        yours: list[str] = []
        ask: dict[str, list[str]] = {}
        for host in hosts:
            owner = self._owner.get(host)
            if host in self._blobs:
                ready[host] = self._blobs[host]
            elif owner is None or owner in self._gone or owner == wid:
                yours.append(host)
            else:
                self._waiting.setdefault(host, []).append(wid)
                if host not in self._asked:
                    self._asked.add(host)
                    ask.setdefault(owner, []).append(host)
        if ready:
            self._send(wid, "facts", ready)
        if yours:
            self._send(wid, "yours", yours)
        for owner, wanted in ask.items():
            self._send(owner, "give", wanted)

    def _relay(self, blobs: dict[str, bytes]) -> None:
        self._blobs.update(blobs)
        out: dict[str, dict[str, bytes]] = {}
        for host, blob in blobs.items():
            for wid in self._waiting.pop(host, []):
                out.setdefault(wid, {})[host] = blob
        for wid, ready in out.items():
            self._send(wid, "facts", ready)

    def _yours(self, hosts: list[str]) -> None:
        out: dict[str, list[str]] = {}
        for host in hosts:
            self._asked.discard(host)
            for wid in self._waiting.pop(host, []):
                out.setdefault(wid, []).append(host)
        for wid, mine in out.items():
            self._send(wid, "yours", mine)


class HostScheduling(LoadScopeScheduling):  # type: ignore[misc]  # (xdist: untyped)
    """xdist's load-by-scope scheduling with the host as the scope of a per-host check.

    Host units are dealt out at the start (largest first, to the least loaded worker), each
    worker told its share first; every other unit (a module's site-level checks, a check
    marked ``rs_one_worker``) goes to the next worker that runs low, as ``--dist loadscope``
    does. A crashed worker's units are dealt again, their hosts told to the new owner."""

    def __init__(self, config: pytest.Config, log: Any, hub: Hub) -> None:
        super().__init__(config, log)
        self.collection: list[str] | None = None
        self.hub = hub
        self._index: dict[WorkerController, dict[str, int]] = {}

    def _split_scope(self, nodeid: str) -> str:
        host = host_of(nodeid)
        if host is None or function_of(nodeid) in self.hub.together:
            return nodeid.split("::", 1)[0]  # its module
        return "@" + host  # (no module path starts with "@")

    def _indices(self, node: WorkerController, unit: Mapping[str, bool]) -> list[int]:
        index = self._index.get(node)
        if index is None:  # (the base class looks each node id up in a list: quadratic)
            index = {nid: i for i, nid in enumerate(self.registered_collections[node])}
            self._index[node] = index
        return [index[nodeid] for nodeid, done in unit.items() if not done]

    def _give(self, node: WorkerController, units: Mapping[str, dict[str, bool]]) -> None:
        hosts = [scope[1:] for scope in units if scope.startswith("@")]
        if hosts:  # told before the checks arrive: the worker gathers them at its first
            self.hub.share(node, hosts)
        assigned = self.assigned_work.setdefault(node, {})
        indices: list[int] = []
        for scope, unit in units.items():
            assigned[scope] = unit
            indices += self._indices(node, unit)
        # in collection order (module by module, as a serial run): a module-scoped fixture
        # is set up once per worker, not once per host
        node.send_runtest_some(sorted(indices))

    def _assign_work_unit(self, node: WorkerController) -> None:
        scope, unit = self.workqueue.popitem(last=False)
        self._give(node, {scope: unit})

    def _reschedule(self, node: WorkerController) -> None:
        if not node.shutting_down and not self.workqueue and self._readers_pending(node):
            self.hub.collect(node)  # told to end below: its facts stay with the controller
        super()._reschedule(node)

    def _readers_pending(self, node: WorkerController) -> bool:
        """Whether another worker still has checks to run that may read hosts it did not
        gather (a module's site-level checks, an rs_one_worker check)."""
        return any(not scope.startswith("@") and not all(unit.values())
                   for other, work in self.assigned_work.items() if other is not node
                   for scope, unit in work.items())

    def remove_node(self, node: WorkerController) -> str | None:
        self.hub.down(node)
        self._index.pop(node, None)
        crashed: str | None = super().remove_node(node)
        return crashed

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:  # a worker started later: the base class's way
            for node in self.nodes:
                self._reschedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = list(next(iter(self.registered_collections.values())))
        if not self.collection:
            return
        units: dict[str, dict[str, bool]] = {}
        for nodeid in self.collection:
            units.setdefault(self._split_scope(nodeid), {})[nodeid] = False
        hosts = [s for s in units if s.startswith("@")]
        load = dict.fromkeys(self.nodes, 0)
        dealt: dict[WorkerController, list[str]] = {node: [] for node in self.nodes}
        for scope in sorted(hosts, key=lambda s: -len(units[s])):
            node = min(load, key=load.__getitem__)
            dealt[node].append(scope)
            load[node] += len(units[scope])
        for scope, unit in units.items():
            if not scope.startswith("@"):
                self.workqueue[scope] = unit
        for node, scopes in dealt.items():
            if scopes:
                mine = set(scopes)
                self._give(node, {s: units[s] for s in hosts if s in mine})  # site order
        for node in self.nodes:
            self._reschedule(node)


# -- a worker ------------------------------------------------------------------------------


class Peers:
    """A worker's end of its link: the hosts it gathers (its share), the others' facts."""

    def __init__(self, channel: Any, wait_s: float) -> None:
        self._channel = channel
        self.wait_s = wait_s
        self._cond = threading.Condition()
        self._share: set[str] = set()
        self._relayed: dict[str, bytes | None] = {}  # None: nobody relays it, gather it here
        self._wanted: set[str] = set()
        self._promised: set[str] = set()
        self._own: Mapping[str, Gathered] = {}  # what this worker gathered (RunState's)
        channel.setcallback(self._receive)

    def mine(self) -> frozenset[str]:
        """The hosts this worker gathers."""
        with self._cond:
            return frozenset(self._share)

    def tell_together(self, functions: Sequence[str]) -> None:
        self._send("together", sorted(set(functions)))

    def offer(self, own: Mapping[str, Gathered]) -> None:
        """This worker's facts (after a gather): the ones promised go out now."""
        with self._cond:
            self._own = own
            ready = {h for h in self._promised if h in own}
            self._promised -= ready
        self._give(ready)

    def fetch(self, host: str, others: Sequence[str]) -> Gathered | None:
        """``host``'s facts as another worker gathered them, or None: gather it here. The
        first call asks for every host in ``others`` at once (a check reading one host of
        another worker reads the rest too: RS-TIME-02, RS-SINGLETON-01)."""
        with self._cond:
            wanted = [h for h in dict.fromkeys([host, *others]) if h not in self._wanted
                      and h not in self._share]
            self._wanted.update(wanted)
        if wanted:
            self._send("want", wanted)
        with self._cond:
            if not self._cond.wait_for(lambda: host in self._relayed, timeout=self.wait_s):
                log.warning("rs link: %s was not relayed within %.0f s: gathering it here",
                            host, self.wait_s)
            blob = self._relayed.get(host)
        if blob is None:
            return None
        got: Gathered = pickle.loads(zlib.decompress(blob))  # from this run's controller
        return got

    def adopt(self, host: str) -> list[str]:
        """``host`` and every other host nobody relays become this worker's to gather."""
        with self._cond:
            mine = {h for h, blob in self._relayed.items() if blob is None} | {host}
            mine -= self._share
            self._share |= mine
            for name in mine:
                self._relayed.pop(name, None)
            return sorted(mine)

    def close(self) -> None:
        """The worker's run ends: what was promised and never gathered, it says so."""
        with self._cond:
            never, self._promised = sorted(self._promised), set()
        if never:
            self._send("none", never)

    def _give(self, hosts: set[str]) -> None:
        if not hosts:
            return
        blobs = {h: zlib.compress(pickle.dumps(self._own[h]), 1) for h in sorted(hosts)}
        self._send("facts", blobs)

    def _send(self, kind: str, data: Any) -> None:
        try:
            self._channel.send((kind, data))
        except (OSError, EOFError, ValueError) as exc:
            log.debug("rs link: %s", exc)

    def _receive(self, message: tuple[str, Any]) -> None:
        """The controller's message (in execnet's receiver thread: quick, and never raising)."""
        try:
            kind, data = message
            ready: set[str] = set()
            with self._cond:
                if kind == "share":
                    self._share.update(data)
                elif kind == "give":
                    for host in data:
                        (ready if host in self._own else self._promised).add(host)
                elif kind == "facts":
                    self._relayed.update(data)
                elif kind == "yours":
                    self._relayed.update(dict.fromkeys(data))
                self._cond.notify_all()
            self._give(ready)
        except Exception:
            log.exception("rs link: cannot handle %r", type(message))


def peers_of(config: pytest.Config, site: Site, parallel: int) -> Peers | None:
    """This worker's ``Peers`` when the controller made it a link (our scheduler), else None."""
    channel = getattr(config, "workerinput", {}).get(LINK)
    return Peers(channel, relay_wait(site, parallel)) if channel is not None else None

