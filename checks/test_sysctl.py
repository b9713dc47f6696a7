"""RS-SYSCTL-*: kernel settings R-Service and OpenSearch need (guide §9.4)."""

from __future__ import annotations

import pytest

from rs_preflight.judge import sysctl as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


@pytest.mark.rs("RS-SYSCTL-01")
def test_file_max(rs: Target) -> Verdict:
    return _sysctl(rs)


@pytest.mark.rs("RS-SYSCTL-02")
def test_max_map_count(rs: Target) -> Verdict:
    return _sysctl(rs)


def _sysctl(rs: Target) -> Verdict:
    return judge.sysctl_at_least(rs.thresholds["key"], rs.facts.get("sysctl"),
                                 rs.facts.get("sysctl_persisted"), rs.thresholds["min"],
                                 rs.pre_note)
