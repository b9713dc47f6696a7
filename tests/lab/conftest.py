"""Session fixtures for the lab tier, and the one fixture model every lab module uses.

Real namespaces, overlay roots, sshd, chronyd and services (``rs_lab.hosts``, ``rs_lab.ntp``,
``rs_lab.scenario``); torn down by finalizers even when tests fail.

**Indices** (places on the lab net, ``rs_lab.indices``) are never picked by hand: a module takes
them from ``lab_lease`` (``lab_lease.take()``, ``.block(n)``, ``.slot()``), which the session's
allocator for ``RS_LAB_PREFIX`` hands out and gets back when the module is done; so no two
modules collide, whatever runs when. ``host_lab`` is the module's own :class:`HostLab`, down at
the module's end; ``lab_site`` brings up scenarios in a slot of the test's own; ``small_site``
(slot 0) and ``ntp_server`` are the session's.

A session owns its prefix: whatever a crashed run of that prefix left (namespaces, veths, the
bridge) is swept once, before the first lab fixture starts anything.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the lab package sits next to the product, not installed
    sys.path.insert(0, str(ROOT))

from rs_lab.hosts import HostLab, sweep_hosts  # noqa: E402
from rs_lab.indices import IndexAllocator, Lease, allocator  # noqa: E402
from rs_lab.netns import bridge_down_if_unused, sweep  # noqa: E402
from rs_lab.ntp import NtpServer  # noqa: E402
from rs_lab.scenario import SLOTS, LabSite, Scenario, sweep_slot  # noqa: E402
from rs_lab.workdir import remove, service_root  # noqa: E402


@pytest.fixture(scope="session")
def lab_swept() -> Iterator[None]:
    """Remove a crashed run's leftovers once, before any lab fixture starts anything (every
    namespace, veth and the bridge of this prefix: the session owns it); after the session
    (every other lab fixture depends on this one, so it ends last) the lab bridge goes too,
    once nothing is attached to it."""
    sweep_hosts()
    for slot in SLOTS:
        sweep_slot(slot)
    sweep()
    yield
    bridge_down_if_unused()


@pytest.fixture(scope="session")
def lab_indices(lab_swept: None) -> IndexAllocator:
    """The session's index allocator for ``RS_LAB_PREFIX``."""
    return allocator()


@pytest.fixture(scope="module")
def lab_lease(lab_indices: IndexAllocator, request: pytest.FixtureRequest) -> Iterator[Lease]:
    """The module's indices and slots, given back when the module is done (after every
    module fixture that uses them is down: they depend on this one)."""
    with lab_indices.lease(request.module.__name__) as lease:
        yield lease


@pytest.fixture(scope="module")
def host_lab(lab_lease: Lease, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostLab]:
    """The module's ``HostLab``: tests add hosts with names of their own and indices from
    ``lab_lease``; every host is down at the module's end."""
    lab = HostLab(tmp_path_factory.mktemp("hosts"))
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="session")
def ntp_server(lab_indices: IndexAllocator, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[NtpServer]:
    """The lab NTP server (chronyd, local stratum 8)."""
    with lab_indices.lease("ntp_server") as lease:
        server = NtpServer(lease.take(), tmp_path_factory.mktemp("ntp"))
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture(scope="session")
def small_site(lab_indices: IndexAllocator) -> Iterator[LabSite]:
    """The healthy ``small`` site (slot 0, phase pre): 7 R-Service hosts + the storage host,
    DNS, nginx LB, mail, PostgreSQL 18 + replica, the OpenSearch stand-in, NTP, the sshfs
    share. ``small_site.site_file`` is what ``rs-preflight --site`` takes. Tests must not
    change it; a broken variant gets its own site from ``lab_site`` (another slot)."""
    root = service_root("scenario")  # not under pytest's basetemp (services drop root)
    with lab_indices.lease("small_site") as lease:
        site = LabSite(Scenario.small(slot=lease.slot(0)), root / "small")
        try:
            yield site.up()
        finally:
            site.down()
            remove(root)


@pytest.fixture
def lab_site(lab_indices: IndexAllocator, request: pytest.FixtureRequest
             ) -> Iterator[Callable[[Scenario], LabSite]]:
    """Bring up further scenarios, each in a free slot of the test's own (the scenario's
    ``slot`` is replaced); all are torn down after the test, even when it fails."""
    root = service_root("overlay")
    sites: list[LabSite] = []

    def up(scenario: Scenario) -> LabSite:
        scenario = scenario.at_slot(lease.slot())
        site = LabSite(scenario, root / f"slot{scenario.slot}-{len(sites)}")
        sites.append(site)
        return site.up()

    with lab_indices.lease(request.node.nodeid) as lease:
        try:
            yield up
        finally:
            for site in reversed(sites):
                site.down()
            remove(root)
