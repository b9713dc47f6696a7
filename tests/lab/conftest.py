"""Session fixtures for the lab tier: lab hosts and the lab NTP server.

Real namespaces, overlay roots, sshd and chronyd (``rs_lab.hosts``, ``rs_lab.ntp``); torn down by
finalizers even when tests fail, and stale host namespaces from a crashed run are swept first.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the lab package sits next to the product, not installed
    sys.path.insert(0, str(ROOT))

from rs_lab.hosts import HostLab, sweep_hosts  # noqa: E402
from rs_lab.ntp import NtpServer  # noqa: E402

NTP_INDEX = 223


@pytest.fixture(scope="session")
def host_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostLab]:
    """One ``HostLab`` for the session; tests add hosts with names and indices of their own."""
    sweep_hosts()
    lab = HostLab(tmp_path_factory.mktemp("hosts"))
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="session")
def ntp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NtpServer]:
    """The lab NTP server (chronyd, local stratum 8)."""
    server = NtpServer(NTP_INDEX, tmp_path_factory.mktemp("ntp"))
    try:
        yield server.start()
    finally:
        server.stop()
