"""The check model: what a check declares and what it is handed when it runs.

A check is a function in ``checks/`` marked with the requirement(s) it verifies; it receives
an ``rs`` target (one host, or the site) and returns a ``Verdict``::

    @pytest.mark.rs("RS-OS-01")
    def test_supported_os(rs: Target) -> Verdict:
        return host.os_supported(rs.facts.get("os_release"), rs.thresholds["supported"])

Roles and phases come from the catalogue: the plugin runs the check once per host holding
one of the requirement's roles, skips it (saying why) outside its phases, and turns the
verdict into passed / failed / error / skipped / waived.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import testinfra.host

from rs_preflight.gather.access import Connections, SecureParamikoBackend
from rs_preflight.gather.facts import Context, HostFacts, gather
from rs_preflight.gather.facts.clock import measure_offset
from rs_preflight.gather.names import SiteDns
from rs_preflight.gather.share import ShareProbe
from rs_preflight.spec.catalogue import Catalogue, Requirement
from rs_preflight.spec.envfile import EnvValue
from rs_preflight.spec.errors import HostUnreachable, PreflightError
from rs_preflight.spec.results import Result
from rs_preflight.spec.site import Host, Site, Waiver

PARALLEL_HOSTS = 16
CLOCK_LOOP = "while read -r _; do date +%s.%N; done"  # one reading per line received


@dataclass
class RunState:
    """Everything one run shares: the site, connections, gathered facts and the results."""

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

    def __post_init__(self) -> None:
        self.dns = SiteDns(self.site)

    @classmethod
    def create(cls, site: Site, catalogue: Catalogue) -> RunState:
        return cls(site=site, catalogue=catalogue, connections=Connections(site))

    @property
    def phase(self) -> str:
        return self.site.phase

    def facts(self, host: Host) -> HostFacts:
        """The host's facts; the first call gathers every reachable host in parallel."""
        with self._lock:
            if host.name not in self._facts:
                hosts = [h for h in self.site.hosts if h.reachable and h.name not in self._facts]
                self.progress(f"gathering facts from {len(hosts)} host(s) in one round trip "
                              f"each (connect timeout {self.site.ssh.connect_timeout:g} s)…")
                self._gather_all(hosts)
        got = self._facts[host.name]
        if isinstance(got, PreflightError):
            raise got
        return got

    def _gather_all(self, hosts: list[Host]) -> None:
        def one(host: Host) -> HostFacts | PreflightError:
            try:
                thost = self.connections.get(host)
                facts = gather(thost, Context(self.site, host, self.catalogue))
                self._sample_clock(host, thost, facts)
                return facts
            except PreflightError as exc:
                return exc
            except Exception as exc:  # a backend's own error: this host only, said plainly
                return HostUnreachable(f"{host.name}: {type(exc).__name__}: {exc}")
            finally:  # nothing else needs it now; the few active probes reconnect
                self.connections.release(host)

        workers = max(1, min(PARALLEL_HOSTS, len(hosts)))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for host, got in zip(hosts, pool.map(one, hosts), strict=True):
                self._facts[host.name] = got

    def gathered(self) -> Mapping[str, HostFacts | PreflightError]:
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


class FactsView:
    """One check's window on a host's facts: remembers which sections it read (its evidence)."""

    def __init__(self, facts: HostFacts) -> None:
        self._facts = facts
        self.read: list[str] = []

    def get(self, name: str) -> Any:
        if name not in self.read:
            self.read.append(name)
        return self._facts.get(name)

    def evidence(self, redact: Callable[[str], str] = str) -> str | None:
        return self._facts.evidence(self.read, redact=redact) or None


@dataclass
class Target:
    """What a check receives: one requirement on one host (or on the site)."""

    requirement: Requirement
    site: Site
    state: RunState
    host: Host | None = None
    _view: FactsView | None = field(default=None, init=False, repr=False)

    @property
    def phase(self) -> str:
        return self.site.phase

    @property
    def severity(self) -> str:
        return self.requirement.severity_for(self.phase)

    @property
    def thresholds(self) -> Mapping[str, Any]:
        return self.requirement.thresholds

    @property
    def facts(self) -> FactsView:
        assert self.host is not None, f"{self.requirement.id} is a site-level check"
        if self._view is None:
            self._view = FactsView(self.state.facts(self.host))
        return self._view

    def evidence(self) -> str | None:
        """The commands this check's facts came from and their output (None if it read none)."""
        return self._view.evidence(self.site.redactor) if self._view is not None else None

    @property
    def pre_note(self) -> str:
        """Said with a low value before installation, when the installer will set it (§9.4)."""
        if self.phase == "pre" and self.severity == "warning":
            return " (the deployment scripts raise it during installation, guide §9.4)"
        return ""

    def settings(self, role: str | None = None) -> dict[str, EnvValue]:
        return self.site.settings.for_role(role)

    def waiver(self, today: dt.date | None = None) -> tuple[Waiver | None, bool]:
        """The waiver covering this target and whether it is still valid today."""
        found = self.site.waiver_for(self.requirement.id, self.host.name if self.host else None)
        if found is None:
            return None, False
        return found, not found.expired(today or dt.date.today())

    def applicability(self) -> str | None:
        """Why this check does not apply here, or None when it does."""
        if self.phase not in self.requirement.phases:
            return (f"{self.requirement.id} applies in phase "
                    f"{'/'.join(self.requirement.phases)} only (this run: {self.phase})")
        if self.host is not None and not self.host.reachable:
            return f"{self.host.name} is checked over the network only (ssh: false)"
        return None


def elapsed(start: float) -> float:
    return round(time.monotonic() - start, 4)
