"""The xdist scheduler's dealing (distribute.py): a host's checks on one worker, told first.

The workers here are stand-ins that record what the controller sends them (the real ones, over
execnet, run in tests/test_terminal.py and the lab's tests/lab/test_parallel.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("xdist")

from rs_preflight.distribute import HostScheduling, Hub, function_of, host_of


@dataclass(eq=False)
class Worker:
    """What a scheduler needs of xdist's WorkerController, and what it was sent."""

    id: str
    sent: list[int] = field(default_factory=list)
    batches: list[list[int]] = field(default_factory=list)
    told: list[list[str]] = field(default_factory=list)
    shutting_down: bool = False

    @property
    def gateway(self) -> Any:
        return SimpleNamespace(id=self.id)

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices
        self.batches.append(list(indices))

    def shutdown(self) -> None:
        self.shutting_down = True


class TellingHub(Hub):
    def __init__(self) -> None:
        super().__init__()
        self.collected: list[str] = []

    def share(self, node: Any, hosts: Any) -> None:
        node.told.append(list(hosts))

    def collect(self, node: Any) -> None:
        self.collected.append(node.id)


COLLECTION = [
    "checks/test_env.py::test_https[RS-ENV-03]",
    *(f"checks/test_os.py::test_supported_os[RS-OS-01@{h}]" for h in ("app1", "app2", "db1")),
    *(f"checks/test_limits.py::test_nofile_soft[RS-LIMIT-01@{h}]" for h in ("app1", "app2",
                                                                            "db1")),
    "checks/test_storage.py::test_shared_folder[RS-STORAGE-01@app1]",
    "checks/test_storage.py::test_shared_folder[RS-STORAGE-01@app2]",
    "checks/test_os.py::test_supported_os[RS-OS-01@no-host]",
]


def scheduler(workers: list[Worker], together: frozenset[str] = frozenset()) -> HostScheduling:
    config = SimpleNamespace(getvalue=lambda name: [f"{len(workers)}*popen"] if name == "tx"
                             else None, option=SimpleNamespace(loadscopereorder=True))
    hub = TellingHub()
    hub.together = together
    sched = HostScheduling(config, None, hub)  # type: ignore[arg-type]
    for worker in workers:
        sched.add_node(worker)
        sched.add_node_collection(worker, COLLECTION)
    return sched


def test_node_ids_name_the_host() -> None:
    assert host_of("checks/test_os.py::test_supported_os[RS-OS-01@app1]") == "app1"
    assert host_of("checks/test_env.py::test_https[RS-ENV-03]") is None
    assert host_of("checks/test_os.py::test_supported_os[RS-OS-01@no-host]") is None
    assert host_of("tests/test_other.py::test_plain") is None
    assert function_of("checks/test_os.py::test_supported_os[RS-OS-01@app1]") == \
        "checks/test_os.py::test_supported_os"


def test_each_host_on_one_worker_told_before_its_checks() -> None:
    a, b = Worker("gw0"), Worker("gw1")
    sched = scheduler([a, b], together=frozenset({"checks/test_storage.py::test_shared_folder"}))
    sched.schedule()
    by_worker = {w.id: {COLLECTION[i] for i in w.sent} for w in (a, b)}
    for host in ("app1", "app2", "db1"):
        holders = [wid for wid, ids in by_worker.items()
                   if any(nid.endswith(f"@{host}]") and "test_storage" not in nid for nid in ids)]
        assert len(holders) == 1, (host, holders)
    told = {h for w in (a, b) for hosts in w.told for h in hosts}
    assert told == {"app1", "app2", "db1"}
    assert len(a.told) == len(b.told) == 1  # one share each, sent with the first checks
    # the rs_one_worker check's items stay together, with its module
    storage = [wid for wid, ids in by_worker.items() if any("test_storage" in n for n in ids)]
    assert len(storage) <= 1
    # each batch in collection order: module by module, as a serial run
    assert all(batch == sorted(batch) for w in (a, b) for batch in w.batches)


def test_every_item_is_sent_once() -> None:
    workers = [Worker("gw0"), Worker("gw1"), Worker("gw2")]
    sched = scheduler(workers)
    sched.schedule()
    # the workers run what they were sent; module units go to whoever runs low, as
    # --dist loadscope does, until nothing is left
    done: set[tuple[str, int]] = set()
    while todo := [(w, i) for w in workers for i in w.sent if (w.id, i) not in done]:
        worker, index = todo[0]
        done.add((worker.id, index))
        sched.mark_test_complete(worker, index)
    sent = sorted(i for w in workers for i in w.sent)
    assert sent == list(range(len(COLLECTION)))
    assert sched.tests_finished


def test_a_worker_told_to_end_leaves_its_facts_while_readers_are_pending() -> None:
    """A worker's facts end with it: when it is told to shut down while another worker still
    has checks that may read its hosts (a module's site-level checks, RS-STORAGE-01 kept on
    one worker), the controller collects them first; when nothing such is pending, not."""
    workers = [Worker("gw0"), Worker("gw1")]
    sched = scheduler(workers,
                      together=frozenset({"checks/test_storage.py::test_shared_folder"}))
    hub = sched.hub
    assert isinstance(hub, TellingHub)
    ended: list[tuple[str, bool]] = []  # (worker, readers pending elsewhere when told to end)
    for worker in workers:
        def shutdown(worker: Worker = worker) -> None:
            if not worker.shutting_down:
                ended.append((worker.id, sched._readers_pending(worker)))
            worker.shutting_down = True
        worker.shutdown = shutdown  # type: ignore[method-assign]
    sched.schedule()
    done: set[tuple[str, int]] = set()
    while todo := [(w, i) for w in workers for i in w.sent if (w.id, i) not in done]:
        # gw1 takes the module units as it runs low; once none is left to hand out, gw0 is
        # told to end while gw1 has not run them yet
        first = workers[1] if sched.workqueue else workers[0]
        worker, index = next(((w, i) for w, i in todo if w is first), todo[0])
        done.add((worker.id, index))
        sched.mark_test_complete(worker, index)
    assert {wid for wid, _ in ended} == {"gw0", "gw1"}
    assert any(pending for _, pending in ended)  # the case this is about happened
    for wid, pending in ended:
        assert (wid in hub.collected) is pending, (wid, ended, hub.collected)
