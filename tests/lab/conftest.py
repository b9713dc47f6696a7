"""Session fixtures for the lab tier: lab hosts, the lab NTP server, and the whole small site.

Real namespaces, overlay roots, sshd, chronyd and services (``rs_lab.hosts``, ``rs_lab.ntp``,
``rs_lab.scenario``); torn down by finalizers even when tests fail. Whatever a crashed run left
(host namespaces of the prefix, the scenario slots' namespaces and veths) is swept once, before the
first lab fixture of the session starts anything.
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
from rs_lab.netns import bridge_down_if_unused  # noqa: E402
from rs_lab.ntp import NtpServer  # noqa: E402
from rs_lab.scenario import SLOTS, LabSite, Scenario, sweep_slot  # noqa: E402
from rs_lab.workdir import remove, service_root  # noqa: E402

NTP_INDEX = 223


@pytest.fixture(scope="session")
def lab_swept() -> Iterator[None]:
    """Remove a crashed run's leftovers once, before any lab fixture starts hosts; after the
    session (every other lab fixture depends on this one, so it ends last) the lab bridge goes
    too, once nothing is attached to it."""
    sweep_hosts()
    for slot in SLOTS:
        sweep_slot(slot)
    yield
    bridge_down_if_unused()


@pytest.fixture(scope="session")
def host_lab(lab_swept: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostLab]:
    """One ``HostLab`` for the session; tests add hosts with names and indices of their own."""
    lab = HostLab(tmp_path_factory.mktemp("hosts"))
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="session")
def ntp_server(lab_swept: None, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[NtpServer]:
    """The lab NTP server (chronyd, local stratum 8)."""
    server = NtpServer(NTP_INDEX, tmp_path_factory.mktemp("ntp"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def small_site(lab_swept: None) -> Iterator[LabSite]:
    """The healthy ``small`` site (slot 0, phase pre): 7 R-Service hosts + the storage host,
    DNS, nginx LB, mail, PostgreSQL 18 + replica, the OpenSearch stand-in, NTP, the sshfs
    share. ``small_site.site_file`` is what ``rs-preflight --site`` takes. Tests must not
    change it; a broken variant gets its own site from ``lab_site`` (another slot)."""
    root = service_root("scenario")  # not under pytest's basetemp (services drop root)
    site = LabSite(Scenario.small(), root / "small")
    try:
        yield site.up()
    finally:
        site.down()
        remove(root)


@pytest.fixture
def lab_site(lab_swept: None) -> Iterator[Callable[[Scenario], LabSite]]:
    """Bring up further scenarios (give each a free slot: 1–3); all are torn down after the
    test, even when it fails."""
    root = service_root("overlay")
    sites: list[LabSite] = []

    def up(scenario: Scenario) -> LabSite:
        site = LabSite(scenario, root / f"slot{scenario.slot}-{len(sites)}")
        sites.append(site)
        return site.up()

    try:
        yield up
    finally:
        for site in reversed(sites):
            site.down()
        remove(root)
