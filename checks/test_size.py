"""RS-SIZE-*: CPU, memory, disks and host counts against the sizing profile (guide §8)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from rs_preflight.judge import size as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict, skipped


def _need(rs: Target) -> Mapping[str, Any] | None:
    assert rs.host is not None
    return judge.nominal(rs.state.catalogue.profiles[rs.site.profile], rs.host.roles)


@pytest.mark.kind("profile_cpu")
def test_cpu(rs: Target) -> Verdict:
    need = _need(rs)
    if need is None:
        assert rs.host is not None  # a host check (_need asserts it too)
        return skipped(f"the {rs.site.profile} profile sizes none of {rs.host.roles}")
    return judge.cpu(rs.facts.get("nproc"), need, rs.site.profile)


@pytest.mark.kind("profile_ram")
def test_ram(rs: Target) -> Verdict:
    need = _need(rs)
    if need is None:
        assert rs.host is not None  # a host check (_need asserts it too)
        return skipped(f"the {rs.site.profile} profile sizes none of {rs.host.roles}")
    return judge.ram(rs.facts.get("mem_total_kb"), need, rs.site.profile,
                     rs.params["tolerance"])


@pytest.mark.kind("profile_disks")
def test_disks(rs: Target) -> Verdict:
    need = _need(rs)
    if need is None:
        assert rs.host is not None  # a host check (_need asserts it too)
        return skipped(f"the {rs.site.profile} profile sizes none of {rs.host.roles}")
    return judge.disks(rs.facts.get("filesystems"), rs.facts.get("block_devices"), need,
                       rs.site.profile, rs.params["disk_tolerance"])


@pytest.mark.kind("profile_host_counts")
def test_host_counts(rs: Target) -> Verdict:
    counts = Counter(role for host in rs.site.hosts for role in host.roles)
    return judge.host_counts(counts, rs.state.catalogue.profiles[rs.site.profile],
                             rs.site.profile)
