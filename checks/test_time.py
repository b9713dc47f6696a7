"""RS-TIME-*: clocks synchronised, from one source, and agreeing (guide §8.5)."""

from __future__ import annotations

import pytest

from rs_preflight.errors import PreflightError
from rs_preflight.judges import time as judge
from rs_preflight.model import Target
from rs_preflight.results import Verdict, error


@pytest.mark.rs("RS-TIME-01")
def test_synchronised(rs: Target) -> Verdict:
    f = rs.facts
    return judge.synchronised(f.get("processes"), f.get("chrony_tracking"),
                              f.get("timedatectl"), f.get("ntpq"))


@pytest.mark.rs("RS-TIME-02")
def test_one_source(rs: Target) -> Verdict:
    sources: dict[str, str | None] = {}
    unreachable = []
    for host in (h for h in rs.site.hosts if h.reachable):
        try:
            f = rs.state.facts(host)
            sources[host.name] = judge.source_of(f.get("chrony_tracking"),
                                                 f.get("timedatectl"), f.get("ntpq"))
        except PreflightError:
            unreachable.append(host.name)
    if not sources:
        return error(f"no host could be asked for its time source ({', '.join(unreachable)})")
    return judge.one_source(sources)


@pytest.mark.rs("RS-TIME-03")
def test_clock_skew(rs: Target) -> Verdict:
    assert rs.host is not None
    offset, rtt = rs.state.clock_offset(rs.host, int(rs.thresholds["samples"]))
    return judge.skew(offset, rtt, rs.site.max_skew_ms)
