"""A host's resources now: disk where given paths live, memory in use, the kernel's file
table (the monitoring sections of seeds/002, 003 and 004). Judged by
:mod:`rs_preflight.judge.resources`."""

from __future__ import annotations

import pytest

from rs_preflight.judge import resources as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("filesystem_usage")
def test_disk_space(rs: Target) -> Verdict:
    return judge.filesystem_usage(rs.facts.get("disk_usage"), rs.params["paths"],
                                  rs.params["max_percent"])


@pytest.mark.kind("memory_usage")
def test_memory(rs: Target) -> Verdict:
    return judge.memory_usage(rs.facts.get("meminfo"), rs.params["max_percent"])


@pytest.mark.kind("file_descriptors")
def test_file_table(rs: Target) -> Verdict:
    return judge.file_descriptors(rs.facts.get("file_nr"), rs.params["max_percent"])
