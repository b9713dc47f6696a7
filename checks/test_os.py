"""RS-OS-*: the operating system (guide §9.2); its vendor's end of life (VOIP-OS-02)."""

from __future__ import annotations

import pytest

from rs_preflight.judge import os as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("os_supported")
def test_supported_os(rs: Target) -> Verdict:
    supported = rs.params["supported"]
    machine = rs.facts.get("machine") if any("arch" in r for r in supported) else None
    return judge.os_supported(rs.facts.get("os_release"), supported, machine)


@pytest.mark.kind("no_processes")
def test_no_third_party_software(rs: Target) -> Verdict:
    return judge.no_third_party(rs.facts.get("processes"), rs.params["forbidden_processes"],
                                rs.facts.get("default_target"))


@pytest.mark.kind("os_end_of_life")
def test_os_end_of_life(rs: Target) -> Verdict:
    # the run's own date (when it started, UTC): every host is judged against the same day
    return judge.end_of_life(rs.facts.get("os_release"), rs.params["releases"],
                             rs.state.started.date())
