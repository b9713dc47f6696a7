"""A product's processes: every one of its list runs, and each stays within the bounds of
its document (seeds/003, 6.3–6.7: AKD's ``AK:*`` processes). Judged by
:mod:`rs_preflight.judge.processes`."""

from __future__ import annotations

import pytest

from rs_preflight.judge import processes as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("process_running")
def test_processes_run(rs: Target) -> Verdict:
    return judge.processes_running(rs.facts.get("processes"), rs.params["processes"],
                                   rs.params.get("match", "argv0"))


def _details(rs: Target) -> dict[str, object]:
    """The details of the processes of this requirement's prefix only."""
    details = rs.facts.get("process_details")
    prefix = rs.params["prefix"]
    return {pid: p for pid, p in details.items()
            if pid == "host" or str(p.get("argv0", "")).startswith(prefix)}


@pytest.mark.kind("process_cpu")
def test_process_cpu(rs: Target) -> Verdict:
    return judge.process_cpu(_details(rs), rs.params["metric"],
                             rs.params["max_percent_of_cpus"])


@pytest.mark.kind("process_memory")
def test_process_memory(rs: Target) -> Verdict:
    return judge.process_memory(_details(rs), rs.params.get("max_rss_percent"),
                                rs.params.get("max_swap_percent"))


@pytest.mark.kind("process_tcp_states")
def test_process_connections(rs: Target) -> Verdict:
    return judge.process_tcp_states(_details(rs), rs.params["max"])


@pytest.mark.kind("process_open_files")
def test_process_open_files(rs: Target) -> Verdict:
    return judge.process_open_files(_details(rs), rs.params["max_fraction_of_limit"])
