"""connect_then_work: connects wide, work narrow, results in order (no timing asserted)."""

from __future__ import annotations

import threading

import pytest

from rs_preflight.gather.pipeline import connect_then_work

SAFETY_S = 30  # a bound so a broken pipeline fails instead of hanging; never a speed test


class Counter:
    """How many are inside at once, and the most ever."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


def test_slow_connects_overlap_while_work_stays_narrow() -> None:
    """Six hosts whose connects all hang until every one of them has started (a blackholed
    host waits out its timeout like this): with one pool of 2 threads this never finishes."""
    all_started = threading.Barrier(6, timeout=SAFETY_S)
    working = Counter()

    def connect(item: str) -> str | None:
        all_started.wait()
        return None

    def work(item: str) -> str:
        with working:
            return item.upper()

    items = ["a", "b", "c", "d", "e", "f"]
    assert connect_then_work(items, connect, work, wide=8, narrow=2) == list("ABCDEF")
    assert working.most <= 2


def test_a_failed_connect_is_its_result_and_never_worked_on() -> None:
    worked: list[str] = []

    def connect(item: str) -> str | None:
        return f"{item}: unreachable" if item in ("b", "d") else None

    def work(item: str) -> str:
        worked.append(item)
        return f"{item}: facts"

    got = connect_then_work(["a", "b", "c", "d"], connect, work, wide=4, narrow=1)
    assert got == ["a: facts", "b: unreachable", "c: facts", "d: unreachable"]
    assert sorted(worked) == ["a", "c"]


def test_work_runs_as_connects_finish_not_in_order() -> None:
    """A host still connecting does not hold the narrow pool: the ones behind it are worked on."""
    first_may_finish = threading.Event()
    order: list[str] = []

    def connect(item: str) -> str | None:
        if item == "slow":
            assert first_may_finish.wait(SAFETY_S)
        return None

    def work(item: str) -> str:
        order.append(item)
        if len(order) == 3:  # every fast host worked on while "slow" still connects
            first_may_finish.set()
        return item

    got = connect_then_work(["slow", "x", "y", "z"], connect, work, wide=4, narrow=1)
    assert got == ["slow", "x", "y", "z"]
    assert order[-1] == "slow"


@pytest.mark.parametrize("wide", [1, 3])
def test_at_most_wide_hosts_between_connect_and_end_of_work(wide: int) -> None:
    inflight = Counter()
    lock = threading.Lock()
    open_now: set[str] = set()

    def connect(item: str) -> str | None:
        with lock:
            open_now.add(item)
            inflight.most = max(inflight.most, len(open_now))
        return None

    def work(item: str) -> str:
        with lock:
            open_now.discard(item)
        return item

    items = [str(i) for i in range(20)]
    assert connect_then_work(items, connect, work, wide=wide, narrow=2) == items
    assert 1 <= inflight.most <= wide


def test_nothing_to_do() -> None:
    assert connect_then_work([], lambda i: None, lambda i: i, wide=4, narrow=2) == []
