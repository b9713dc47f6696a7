"""The run's state: the site, connections, gathered facts, the run's probe results, results.

One :class:`RunState` per run (per process: each xdist worker has its own). Checks ask it for
what they need and it gathers once:

* ``facts(host)`` — a host's fact sections (the first call gathers every reachable host in
  parallel, one round trip each);
* ``probe(key, compute)`` — a network probe's result (a TLS handshake, an IMAP login, a
  PostgreSQL survey …), computed once per run and shared by every check that judges it::

      got = rs.state.probe(("pg", "WRITER"), lambda: pg.survey(endpoint, …))

  Its error is remembered too (raised again, not retried: a timeout costs one timeout per run);
* ``dns``, ``share()``, ``clock_offset()`` and the clean-up of the active probes.

Gathering only: nothing here judges (no import of :mod:`rs_preflight.judge`).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import testinfra.host

from rs_preflight.gather.access import Connections, SecureParamikoBackend
from rs_preflight.gather.facts import Context, HostFacts, gather
from rs_preflight.gather.facts.clock import measure_offset
from rs_preflight.gather.names import SiteDns
from rs_preflight.gather.pipeline import connect_then_work
from rs_preflight.gather.probes import Unreachable
from rs_preflight.gather.share import ShareProbe
from rs_preflight.spec.catalogue import Catalogue, Requirement
from rs_preflight.spec.errors import HostUnreachable, PreflightError
from rs_preflight.spec.kinds import Needs, needs_for, sections_for
from rs_preflight.spec.results import Result
from rs_preflight.spec.site import Host, Site

T = TypeVar("T")
Key = tuple[Hashable, ...]  # (kind of probe, what it asks …), e.g. ("tls", name, address)

PARALLEL_HOSTS = 16  # hosts worked on at once (fact script, clock samples)
PARALLEL_CONNECTS = 128  # hosts connecting at once: unreachable ones wait out their timeout
# One reading per line received. date(1), not bash's $EPOCHREALTIME (no process started): the
# lab shifts a host's clock with libfaketime, which date(1) sees and $EPOCHREALTIME did not,
# so only date(1) is proven to read what the host's programs read.
CLOCK_LOOP = "while read -r _; do date +%s.%N; done"


class ProbeCache:
    """Probe results of one run, by key: each computed once, thread-safe.

    The first caller of a key computes it; a caller of the same key meanwhile waits for that
    result instead of probing again. An error (an ``Exception``) is remembered and raised again
    to every later caller: what timed out costs one timeout per run. An interrupt
    (``KeyboardInterrupt``) is not remembered.

    ``at`` (optional) is the address a probe connects to: once a probe of the same kind
    (``key[0]``) found it :class:`~rs_preflight.gather.probes.Unreachable` (refused, timed
    out), later probes of that kind there fail at once with that error — the other names at a
    dead load balancer cost no more time. The kind keeps areas apart (a TLS timeout never
    decides an LB check), so a run split over xdist workers reports what a serial run does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[Key, concurrent.futures.Future[Any]] = {}
        self._dead: dict[tuple[Hashable, Hashable], Unreachable] = {}

    def get(self, key: Key, compute: Callable[[], T], *, at: Hashable | None = None) -> T:
        """``compute()``'s result for ``key`` (computed on the first call only), or its error
        raised again."""
        with self._lock:
            known = self._results.get(key)
            if known is None:
                mine: concurrent.futures.Future[Any] = concurrent.futures.Future()
                self._results[key] = mine
        if known is not None:
            return cast(T, known.result())  # waits if another thread is computing it
        try:
            dead = self.unreachable(key[0], at) if at is not None else None
            if dead is not None:
                raise dead
            value = compute()
        except Unreachable as exc:
            if at is not None:
                with self._lock:
                    self._dead.setdefault((key[0], at), exc)
            mine.set_exception(exc)
            raise
        except Exception as exc:
            mine.set_exception(exc)
            raise
        except BaseException as exc:  # interrupted: forget it, and leave no caller waiting
            with self._lock:
                del self._results[key]
            mine.set_exception(exc)
            raise
        mine.set_result(value)
        return value

    def error(self, key: Key) -> BaseException | None:
        """The error remembered for ``key``; None if it succeeded, is running or never ran."""
        with self._lock:
            known = self._results.get(key)
        if known is None or not known.done():
            return None
        return known.exception()

    def unreachable(self, kind: Hashable, at: Hashable) -> Unreachable | None:
        """The error of a probe of ``kind`` that found ``at`` unreachable in this run."""
        with self._lock:
            return self._dead.get((kind, at))


class Peers(Protocol):
    """An xdist worker's share of the hosts and the other workers' facts (implemented by
    ``rs_preflight.distribute.Peers``; None in a serial run)."""

    def mine(self) -> frozenset[str]:
        """The hosts this worker gathers."""

    def offer(self, own: Mapping[str, HostFacts | PreflightError]) -> None:
        """What this worker gathered, for the workers waiting for it."""

    def fetch(self, host: str, others: Sequence[str]
              ) -> HostFacts | PreflightError | None:
        """``host``'s facts as another worker gathered them, or None: gather it here."""

    def adopt(self, host: str) -> list[str]:
        """``host`` and the other hosts nobody relays become this worker's to gather."""


@dataclass
class RunState:
    """Everything one run shares: the site, connections, gathered facts, probe results and
    the results."""

    site: Site
    catalogue: Catalogue
    connections: Connections
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished: dt.datetime | None = None
    results: dict[str, Result] = field(default_factory=dict)
    _facts: dict[str, HostFacts | PreflightError] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _offsets: dict[str, tuple[float, float]] = field(default_factory=dict)
    clock_samples: dict[str, int] = field(default_factory=dict)  # host → samples at gather
    _share: ShareProbe | None = None
    _cleanups: list[Callable[[], None]] = field(default_factory=list)
    # what a slow step is waiting for, said as it starts (the terminal's status line)
    progress: Callable[[str], None] = field(default=lambda text: None)
    dns: SiteDns = field(init=False, repr=False)  # the site's resolvers: health probed once
    probes: ProbeCache = field(default_factory=ProbeCache, repr=False)
    # the fact sections gathered (None: every one) and what they need from the catalogue;
    # ``select`` narrows both to the requirements a run selected
    sections: frozenset[str] | None = None
    needs: Needs = field(init=False, repr=False)
    # an xdist worker's share of the hosts and the other workers' facts (distribute.py)
    peers: Peers | None = None
    _relayed: dict[str, HostFacts | PreflightError] = field(default_factory=dict)
    # hosts being gathered behind the checks (a serial run): set once each one's facts are in
    _coming: dict[str, threading.Event] = field(default_factory=dict)
    _gatherer: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.dns = SiteDns(self.site)
        self.needs = needs_for(self.catalogue.values())

    def select(self, requirements: Iterable[Requirement]) -> None:
        """Gather only what the kinds of ``requirements`` (those of this phase) read, with
        what they need (the sysctl keys, the flow tables): before the first fact is read."""
        chosen = [r for r in requirements if self.phase in r.phases]
        self.sections = sections_for(r.kind for r in chosen)
        self.needs = needs_for(chosen)

    @classmethod
    def create(cls, site: Site, catalogue: Catalogue) -> RunState:
        return cls(site=site, catalogue=catalogue, connections=Connections(site))

    @property
    def phase(self) -> str:
        return self.site.phase

    def facts(self, host: Host) -> HostFacts:
        """The host's facts; the first call starts gathering every reachable host in parallel
        and returns as soon as *this* host's are in, so the checks of the first hosts run
        while the others are still gathered (on an xdist worker: every host of its share,
        gathered before it returns, see ``_gather_for``)."""
        with self._lock:
            if host.name not in self._facts and host.name not in self._relayed \
                    and host.name not in self._coming:
                self._gather_for(host)
        coming = self._coming.get(host.name)
        if coming is not None:
            coming.wait()
        got = self._facts[host.name] if host.name in self._facts else self._relayed[host.name]
        if isinstance(got, PreflightError):
            raise got
        return got

    def _gather_for(self, host: Host) -> None:
        """Gather what ``host`` needs: serially every reachable host not gathered yet; on an
        xdist worker its share of them, and ``host``'s facts relayed if another worker's."""
        mine = None if self.peers is None else self.peers.mine()
        hosts = [h for h in self.site.hosts
                 if h.reachable and h.name not in self._facts and (mine is None or h.name in mine)]
        if hosts:
            self.progress(f"gathering facts from {len(hosts)} host(s) in one round trip "
                          f"each (connect timeout {self.site.ssh.connect_timeout:g} s)…")
            if self.peers is None:
                self._gather_behind(hosts)
                return
            self._gather_all(hosts)
        if self.peers is None:
            return
        self.peers.offer(self._facts)  # to the workers waiting for them
        if host.name in self._facts:
            return
        others = [h.name for h in self.site.hosts if h.reachable and h.name not in self._facts]
        got = self.peers.fetch(host.name, others)
        if got is not None:
            self._relayed[host.name] = got
            return
        adopted = set(self.peers.adopt(host.name))  # nobody else gathers it: here
        self._gather_all([h for h in self.site.hosts if h.name in adopted])
        self.peers.offer(self._facts)

    def _gather_behind(self, hosts: list[Host]) -> None:
        """Gather ``hosts`` in a thread of their own; each host's event is set as its facts
        (or its error) are in. Should the gathering itself die, every host still waiting gets
        an error that says so — never a wait without end, never facts that are not there."""
        coming = {h.name: threading.Event() for h in hosts}
        self._coming.update(coming)

        def run() -> None:
            try:
                self._gather_all(hosts, lambda h: coming[h.name].set())
            except BaseException as exc:
                for h in hosts:
                    if h.name not in self._facts:
                        self._facts[h.name] = HostUnreachable(
                            f"{h.name}: its facts were not gathered: the gathering stopped "
                            f"({type(exc).__name__}: {exc})")
                raise
            finally:
                for event in coming.values():
                    event.set()

        self._gatherer = threading.Thread(target=run, name="rs-gather", daemon=True)
        self._gatherer.start()

    def _gather_all(self, hosts: list[Host],
                    each: Callable[[Host], None] | None = None) -> None:
        def connect(host: Host) -> PreflightError | None:
            if self._stopping.is_set():  # the run is over: no new connection
                return HostUnreachable(f"{host.name}: not gathered: the run was stopped")
            try:
                self.connections.get(host)
                return None
            except PreflightError as exc:
                return exc
            except Exception as exc:  # a backend's own error: this host only, said plainly
                return HostUnreachable(f"{host.name}: {type(exc).__name__}: {exc}")

        def one(host: Host) -> HostFacts | PreflightError:
            try:
                thost = self.connections.get(host)
                names = sorted(self.sections) if self.sections is not None else None
                facts = gather(thost, Context(self.site, host, self.needs), names)
                self._sample_clock(host, thost, facts)
                return facts
            except PreflightError as exc:
                return exc
            except Exception as exc:  # a backend's own error: this host only, said plainly
                return HostUnreachable(f"{host.name}: {type(exc).__name__}: {exc}")
            finally:  # nothing else needs it now; the few active probes reconnect
                self.connections.release(host)

        def done(i: int, got: HostFacts | PreflightError) -> None:
            self._facts[hosts[i].name] = got
            if each is not None:
                each(hosts[i])

        connect_then_work(hosts, connect, one, wide=PARALLEL_CONNECTS, narrow=PARALLEL_HOSTS,
                          done=done)

    def probe(self, key: Key, compute: Callable[[], T], *, at: Hashable | None = None) -> T:
        """``compute()`` once per run for ``key`` (its result, or its error raised again); see
        :class:`ProbeCache` for ``at``, the address it connects to."""
        return self.probes.get(key, compute, at=at)

    def stop_gathering(self) -> None:
        """An interrupted run: a gathering still under way opens no more connections, and
        :meth:`gathered` says what is in without waiting for the rest."""
        self._stopping.set()

    def gathered(self) -> Mapping[str, HostFacts | PreflightError]:
        """Every host's facts or error, once the gathering is over (a host no selected check
        asked for may still have been on its way)."""
        if self._gatherer is not None and not self._stopping.is_set():
            self._gatherer.join()
        return dict(self._facts)

    def _sample_clock(self, host: Host, thost: testinfra.host.Host, facts: HostFacts) -> None:
        """The clock samples the run asked for (``clock_samples``), in the gathering pool on
        the connection already open: one channel, one ``date`` per line sent. If that fails,
        ``clock_offset`` measures later and reports its own error."""
        samples = self.clock_samples.get(host.name, 0)
        if not samples or not isinstance(thost.backend, SecureParamikoBackend):
            return
        try:
            with thost.backend.line_channel(CLOCK_LOOP) as ask:
                self._offsets[host.name] = measure_offset(ask, samples)
        except PreflightError:
            return
        facts.round_trips += samples

    def clock_offset(self, host: Host, samples: int) -> tuple[float, float]:
        """(offset s, round trip s) of the host's clock against the runner's: measured while
        gathering (see ``clock_samples``), else now with ``samples`` commands."""
        if host.name not in self._offsets:
            thost = self.connections.get(host)
            self.progress(f"measuring {host.name}'s clock ({samples} samples)…")
            self._offsets[host.name] = measure_offset(
                lambda: thost.check_output("date +%s.%N"), samples)
            self.facts(host).round_trips += samples
        return self._offsets[host.name]

    def share(self) -> ShareProbe:
        """The run's shared-folder probe (written on first use, removed by ``cleanup``)."""
        if self._share is None:
            assert self.site.storage_path
            self.progress(f"writing the shared-folder probe in {self.site.storage_path}…")
            self._share = ShareProbe(self.site.storage_path)
        return self._share

    def on_cleanup(self, undo: Callable[[], None]) -> None:
        """Have ``cleanup`` call ``undo`` (an active probe's own undo step, e.g. the header
        probe's listeners); last registered, first called; each at most once."""
        self._cleanups.append(undo)

    def cleanup(self) -> None:
        """Undo the run's active probes, then close connections. Safe to call twice."""
        self.stop_gathering()
        try:
            while self._cleanups:
                undo = self._cleanups.pop()
                try:
                    undo()
                except Exception as exc:  # one probe's undo must not stop the others'
                    logging.getLogger("rs_preflight").warning("cleanup: %s: %s",
                                                              type(exc).__name__, exc)
            if self._share is not None:
                self._share.cleanup()
        finally:
            self.connections.close()
