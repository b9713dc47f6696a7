"""RS-NET-01: the link carrying the host's address runs at 1 Gbit/s or more (guide §8.5)."""

from __future__ import annotations

import pytest

from rs_preflight.judge import net as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("link_speed")
def test_link_speed(rs: Target) -> Verdict:
    assert rs.host is not None
    return judge.link_speed(rs.facts.get("links"), rs.host.address, rs.thresholds["min_mbps"])
