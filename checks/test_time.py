"""RS-TIME-*: clocks synchronised, from one source, and agreeing (guide §8.5)."""

from __future__ import annotations

import pytest

from rs_preflight.judge import time as judge
from rs_preflight.model import Target
from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("time_synchronised")
def test_synchronised(rs: Target) -> Verdict:
    f = rs.facts
    return judge.synchronised(f.get("processes"), f.get("chrony_tracking"),
                              f.get("timedatectl"), f.get("ntpq"))


def _sources(rs: Target) -> dict[str, str | None]:
    """Each reachable host's NTP source (RS-TIME-02 judges every host against all of them)."""
    sources: dict[str, str | None] = {}
    for host in (h for h in rs.site.hosts if h.reachable):
        try:
            f = rs.state.facts(host)
        except PreflightError:
            continue  # its own records say it is unreachable
        sources[host.name] = judge.source_of(f.get("chrony_tracking"), f.get("timedatectl"),
                                             f.get("ntpq"))
    return sources


@pytest.mark.rs_one_worker("compares every host's time source: relayed to one worker once")
@pytest.mark.kind("time_one_source")
def test_one_source(rs: Target) -> Verdict:
    assert rs.host is not None
    return judge.follows_majority(rs.host.name,
                                  rs.state.probe(("time", "sources"), lambda: _sources(rs)))


@pytest.mark.kind("clock_skew", clock_samples="samples")  # taken while gathering
def test_clock_skew(rs: Target) -> Verdict:
    assert rs.host is not None
    offset, rtt = rs.state.clock_offset(rs.host, int(rs.params["samples"]))
    return judge.skew(offset, rtt, rs.site.max_skew_ms)
