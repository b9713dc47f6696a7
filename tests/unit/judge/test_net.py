"""RS-NET-01's judge: the link carrying the host's address, against the minimum speed."""

from __future__ import annotations

from typing import Any

import pytest

from rs_preflight.judge import net
from rs_preflight.spec.results import FAILED, PASSED

LINKS: dict[str, Any] = {"addresses": {"192.0.2.21": "eth0", "10.0.0.5": "veth1",
                                       "2001:db8::21": "eth0"},
                         "speeds": {"eth0": 1000, "veth1": None, "eth1": 100}}


@pytest.mark.parametrize(("address", "minimum", "outcome", "found"), [
    ("192.0.2.21", 1000, PASSED, "1000 Mb/s"),
    ("2001:db8::21", 1000, PASSED, "1000 Mb/s"),
    ("192.0.2.21", 10000, FAILED, "1000 Mb/s"),
    ("10.0.0.5", 1000, PASSED, "unknown"),      # a virtual NIC says no speed: info only
    ("198.51.100.9", 1000, PASSED, "unknown"),  # NAT: no interface carries the address
])
def test_link_speed(address: str, minimum: int, outcome: str, found: str) -> None:
    verdict = net.link_speed(LINKS, address, minimum)
    assert (verdict.outcome, verdict.found, verdict.expected) == \
        (outcome, found, f">= {minimum} Mb/s")


def test_the_message_names_the_interface_or_why_it_is_not_judged() -> None:
    assert net.link_speed(LINKS, "192.0.2.21", 10000).message == "eth0 runs at 1000 Mb/s"
    assert "virtual NIC" in net.link_speed(LINKS, "10.0.0.5", 1000).message
    assert "no interface carries 198.51.100.9" in \
        net.link_speed(LINKS, "198.51.100.9", 1000).message
