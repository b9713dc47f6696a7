"""Connect wide, work narrow: many hosts connected at once, few worked on at once.

An unreachable host costs its connect timeout while it holds a thread. With one pool of 16
threads doing connect-then-work, a tenth of 1000 hosts unreachable (100 hosts × 5 s held)
costs ~6 connect timeouts in a row; here connects run in a wide pool (``wide`` at once, and
at most ``wide`` hosts between the start of their connect and the end of their work, so idle
connections do not pile up), and each host connected is handed to the narrow pool, which only
ever works on connected hosts: the unreachable tenth costs about one connect timeout in total.

>>> results = connect_then_work(hosts, connect, work, wide=128, narrow=16)
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def connect_then_work(items: Sequence[T], connect: Callable[[T], R | None],
                      work: Callable[[T], R], *, wide: int, narrow: int,
                      done: Callable[[int, R], None] | None = None) -> list[R]:
    """``work(item)`` for each item whose ``connect(item)`` returned None; the result of
    ``connect`` for the others (e.g. the error it met). Results in the order of ``items``.
    Items start connecting in order; work runs in the order connects finish. ``done(i,
    result)`` is called as each item's result is in (from a pool thread), so a caller can use
    the first results while the others are still coming."""
    if not items:
        return []
    results: list[R | None] = [None] * len(items)
    slots = threading.BoundedSemaphore(max(1, min(wide, len(items))))

    def finish(i: int, result: R) -> None:
        results[i] = result
        if done is not None:
            done(i, result)

    def second(i: int) -> None:
        try:
            finish(i, work(items[i]))
        finally:
            slots.release()

    def first(i: int, workers: concurrent.futures.Executor
              ) -> concurrent.futures.Future[None] | None:
        try:
            early = connect(items[i])
        except BaseException:
            slots.release()
            raise
        if early is not None:
            try:
                finish(i, early)
            finally:
                slots.release()
            return None
        return workers.submit(second, i)

    with concurrent.futures.ThreadPoolExecutor(max(1, min(narrow, len(items)))) as workers, \
            concurrent.futures.ThreadPoolExecutor(max(1, min(wide, len(items)))) as connects:
        started = []
        for i in range(len(items)):
            slots.acquire()
            started.append(connects.submit(first, i, workers))
        for future in started:
            then = future.result()
            if then is not None:
                then.result()
    out: list[R] = []
    for result in results:
        assert result is not None
        out.append(result)
    return out
