"""RS-NET-01: the link carrying the host's address runs at 1 Gbit/s or more (guide §8.5)."""

from __future__ import annotations

import pytest

from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict, failed, passed


@pytest.mark.rs("RS-NET-01")
def test_link_speed(rs: Target) -> Verdict:
    assert rs.host is not None
    links = rs.facts.get("links")
    iface = links["addresses"].get(rs.host.address)
    minimum = rs.thresholds["min_mbps"]
    expected = f">= {minimum} Mb/s"
    if iface is None:
        return passed(f"no interface carries {rs.host.address} as seen on the host (NAT or a "
                      "name): link speed not judged (info)", expected, "unknown")
    speed = links["speeds"].get(iface)
    if speed is None:
        return passed(f"{iface} does not report a speed (virtual NIC): recorded as info",
                      expected, "unknown")
    if speed < minimum:
        return failed(f"{iface} runs at {speed} Mb/s", expected, f"{speed} Mb/s")
    return passed(f"{iface} runs at {speed} Mb/s", expected, f"{speed} Mb/s")
