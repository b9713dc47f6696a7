"""Who may use which lab index: one allocator per session and lab prefix.

An *index* n is a place on the lab net: addresses ``10.<net>.0.n`` and ``fd00:<net>::n``, veth
``<prefix>v<n>``. Every lab host and service needs one (or a few); two users of one index break
each other. So nobody picks indices by hand: a user takes a :class:`Lease` from the
:class:`IndexAllocator` of its prefix and asks it for indices, and gives them all back at once
when it is done (``release()``, or leaving its ``with``). The tests do it per module
(``tests/lab/conftest.py``: ``lab_lease``), per test (``lab_site``) and per session (the small
site, the NTP server).

The plan of the lab /24 (``netns.SUBNET4``):

======================  ==========================================================
index                   handed out as
======================  ==========================================================
1                       the runner's gateway address on the lab bridge (never)
10–19, 20–29, 40–49,    scenario *slots* 0–3: hosts (:data:`SLOTS`, ``rs_lab.scenario``),
50–59; 180–219          ten service indices each; ``Lease.slot()``
everything else         single indices (``Lease.take()``) and contiguous blocks
                        (``Lease.block(n)``), lowest free first
======================  ==========================================================

Slot 0 (plain host names) belongs to the session's healthy small site: ``slot()`` hands out
1–3 and only ``slot(0)`` asks for 0. An index whose veth exists on the machine (a leftover, or
another user outside the allocator) is skipped, never taken over.

>>> lease = allocator().lease("test_web")
>>> dns, lb = lease.take("dns"), lease.take("nginx")
>>> pg = lease.block(2, "pg18")                 # writer at pg[0], its replica at pg[1]
>>> slot = lease.slot()                         # a free scenario slot, 1..3
>>> lease.release()
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from types import TracebackType

from rs_lab.netns import PREFIX, SUBNET4, LabError

__all__ = ["SLOTS", "SLOT_SERVICES", "IndexAllocator", "Lease", "allocator"]

# slot → (first host index, first service index); hosts and services take ten each
SLOTS: dict[int, tuple[int, int]] = {0: (10, 180), 1: (20, 190), 2: (40, 200), 3: (50, 210)}
SLOT_SERVICES = 10


def slot_indices(slot: int) -> list[int]:
    """Every index scenario slot ``slot`` may use (its hosts' and its services')."""
    hosts, services = SLOTS[slot]
    return [*range(hosts, hosts + 10), *range(services, services + SLOT_SERVICES)]


class IndexAllocator:
    """Hands out the indices of one lab prefix; thread-safe. See the module docstring."""

    def __init__(self, prefix: str = PREFIX, last: int | None = None) -> None:
        self.prefix = prefix
        self.first = 2
        # a /24 ends at 254 (255 is broadcast); a wider net (benchmarks) at its own end
        self.last = last if last is not None else min(SUBNET4.num_addresses - 2, 65534)
        self._reserved = {i for s in SLOTS for i in slot_indices(s)}
        self._held: dict[int, str] = {}          # index → holder ("module:label")
        self._slots: dict[int, str] = {}         # slot → holder
        self._lock = threading.Lock()

    def lease(self, owner: str) -> Lease:
        """A new lease for ``owner`` (a name that shows up in errors: the module, the test)."""
        return Lease(self, owner)

    # -- for Lease ----------------------------------------------------------------------------
    def _free(self, index: int, taken_on_machine: set[int]) -> bool:
        return (index not in self._held and index not in self._reserved
                and index not in taken_on_machine)

    def _take(self, n: int, holder: str) -> list[int]:
        with self._lock:
            on_machine = self._veth_indices()
            run: list[int] = []
            for index in range(self.first, self.last + 1):
                run = [*run, index] if self._free(index, on_machine) else []
                if len(run) == n:
                    for i in run:
                        self._held[i] = holder
                    return run
        raise LabError(f"no {n} free contiguous lab indices for {holder} "
                       f"(held: {self.holders()})")

    def _take_slot(self, holder: str, slot: int | None) -> int:
        with self._lock:
            wanted = [slot] if slot is not None else [s for s in SLOTS if s != 0]
            for s in wanted:
                if s not in SLOTS:
                    raise LabError(f"no scenario slot {s}; known: {sorted(SLOTS)}")
                if s not in self._slots:
                    self._slots[s] = holder
                    return s
        held = ", ".join(f"{s}: {h}" for s, h in sorted(self._slots.items()))
        raise LabError(f"no free scenario slot for {holder} (held: {held})")

    def _give_back(self, indices: Iterable[int], slots: Iterable[int]) -> None:
        with self._lock:
            for i in indices:
                self._held.pop(i, None)
            for s in slots:
                self._slots.pop(s, None)

    def _veth_indices(self) -> set[int]:
        """Indices whose veth exists in the runner's namespace (lab veths live there)."""
        stem = f"{self.prefix}v"
        try:
            names = os.listdir("/sys/class/net")
        except OSError:
            return set()
        return {int(n[len(stem):]) for n in names
                if n.startswith(stem) and n[len(stem):].isdigit()}

    def holders(self) -> dict[str, list[int]]:
        """Holder → the indices it holds (for error messages)."""
        out: dict[str, list[int]] = {}
        for index, holder in sorted(self._held.items()):
            out.setdefault(holder, []).append(index)
        return out


class Lease:
    """Indices and slots one user holds; ``release()`` (or the end of ``with``) gives them all
    back. Give back only after what used them is down."""

    def __init__(self, pool: IndexAllocator, owner: str) -> None:
        self.pool, self.owner = pool, owner
        self.indices: list[int] = []
        self.slots: list[int] = []

    def take(self, label: str = "") -> int:
        """One free index."""
        return self.block(1, label)[0]

    def block(self, n: int, label: str = "") -> list[int]:
        """``n`` contiguous free indices (a server and its replica, a cluster)."""
        got = self.pool._take(n, f"{self.owner}:{label}" if label else self.owner)
        self.indices += got
        return got

    def slot(self, slot: int | None = None) -> int:
        """A free scenario slot (1–3), or exactly ``slot`` (0 is the small site's)."""
        got = self.pool._take_slot(self.owner, slot)
        self.slots.append(got)
        return got

    def free_slot(self, slot: int) -> None:
        """Give slot ``slot`` back before the rest (its site is down)."""
        if slot in self.slots:
            self.slots.remove(slot)
            self.pool._give_back((), (slot,))

    def release(self) -> None:
        """Give every index and slot back (idempotent)."""
        self.pool._give_back(self.indices, self.slots)
        self.indices, self.slots = [], []

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


_ALLOCATORS: dict[str, IndexAllocator] = {}
_ALLOCATORS_LOCK = threading.Lock()


def allocator(prefix: str = PREFIX) -> IndexAllocator:
    """This process's allocator for lab ``prefix`` (one per prefix: a session owns its prefix)."""
    with _ALLOCATORS_LOCK:
        if prefix not in _ALLOCATORS:
            _ALLOCATORS[prefix] = IndexAllocator(prefix)
        return _ALLOCATORS[prefix]
