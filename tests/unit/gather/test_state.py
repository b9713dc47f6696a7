"""The run's probe cache (``RunState.probe``): once per run, errors remembered, one computation
when many threads ask at once, an address found unreachable costs one timeout per kind."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import pytest

from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.state import ProbeCache, RunState
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.site import Site


class Counted:
    """A probe that counts its calls and answers (or raises) what it is given."""

    def __init__(self, answer: object = "answer") -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def test_computed_once_per_key() -> None:
    cache, probe = ProbeCache(), Counted()
    assert [cache.get(("tls", "a"), probe) for _ in range(3)] == ["answer"] * 3
    assert probe.calls == 1
    assert cache.get(("tls", "b"), probe) == "answer"
    assert probe.calls == 2


def test_errors_are_remembered_and_raised_again() -> None:
    cache, probe = ProbeCache(), Counted(ProbeError("IMAP imap.example.com:993: timed out"))
    for _ in range(3):
        with pytest.raises(ProbeError, match="timed out") as got:
            cache.get(("imap",), probe)
        assert got.value is probe.answer  # the same error, not a new attempt
    assert probe.calls == 1
    assert cache.error(("imap",)) is probe.answer
    assert cache.error(("smtp",)) is None  # never ran


def test_a_crash_is_remembered_too() -> None:
    cache, probe = ProbeCache(), Counted(ValueError("bad answer"))
    for _ in range(2):
        with pytest.raises(ValueError, match="bad answer"):
            cache.get(("search", "u"), probe)
    assert probe.calls == 1


def test_an_interrupt_is_not_remembered() -> None:
    cache = ProbeCache()
    with pytest.raises(KeyboardInterrupt):
        cache.get(("pg", "WRITER"), Counted(KeyboardInterrupt()))
    assert cache.error(("pg", "WRITER")) is None
    assert cache.get(("pg", "WRITER"), Counted("now")) == "now"


def test_many_threads_one_computation() -> None:
    """Threads asking for the same key while it is being computed wait for that result."""
    cache = ProbeCache()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(10)
        return "handshake"

    results: list[str] = []

    def ask() -> None:
        results.append(cache.get(("tls", "rs.example.com", "192.0.2.10"), slow))

    first = threading.Thread(target=ask)
    first.start()
    assert started.wait(10)
    others = [threading.Thread(target=ask) for _ in range(8)]
    for t in others:
        t.start()
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results == ["handshake"] * 9
    assert len(calls) == 1


def test_many_threads_many_keys() -> None:
    cache = ProbeCache()
    calls: dict[int, int] = {}
    lock = threading.Lock()

    def compute(n: int) -> int:
        with lock:
            calls[n] = calls.get(n, 0) + 1
        return n * n

    barrier = threading.Barrier(16)

    def ask(i: int) -> None:
        barrier.wait(10)
        for n in ((k + i) % 20 for k in range(20)):
            assert cache.get(("n", n), functools.partial(compute, n)) == n * n

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert calls == dict.fromkeys(range(20), 1)


def test_an_unreachable_address_costs_one_timeout_per_kind() -> None:
    cache = ProbeCache()
    dead = Unreachable("TLS to 192.0.2.10:443 (SNI rs.example.com): timed out")
    first = Counted(dead)
    with pytest.raises(Unreachable):
        cache.get(("tls", "rs.example.com", "192.0.2.10"), first, at="192.0.2.10")
    other = Counted()
    with pytest.raises(Unreachable) as got:
        cache.get(("tls", "api.rs.example.com", "192.0.2.10"), other, at="192.0.2.10")
    assert got.value is dead and other.calls == 0  # not tried: the address is dead
    assert cache.unreachable("tls", "192.0.2.10") is dead
    # another address, and another kind at the same address, are still tried
    assert cache.get(("tls", "rs.example.com", "192.0.2.11"), other, at="192.0.2.11") == \
        "answer"
    assert cache.get(("lb-echo", "rs.example.com", "192.0.2.10"), other,
                     at="192.0.2.10") == "answer"
    assert other.calls == 2


def test_other_errors_do_not_mark_the_address() -> None:
    """Only Unreachable (nothing accepted) says the address is dead; a bad answer does not."""
    cache = ProbeCache()
    with pytest.raises(ProbeError):
        cache.get(("tls", "a", "192.0.2.10"), Counted(ProbeError("no certificate")),
                  at="192.0.2.10")
    assert cache.unreachable("tls", "192.0.2.10") is None
    assert cache.get(("tls", "b", "192.0.2.10"), Counted(), at="192.0.2.10") == "answer"


def test_the_run_state_holds_one_cache() -> None:
    state = RunState.create(Site(name="s", file=Path("site.yaml")), load_catalogue())
    probe = Counted({"version": "17.2"})
    assert state.probe(("pg", "WRITER"), probe) is state.probe(("pg", "WRITER"), probe)
    assert probe.calls == 1
    assert RunState.create(state.site, state.catalogue).probe(("pg", "WRITER"), probe) == \
        {"version": "17.2"}
    assert probe.calls == 2  # another run probes again
