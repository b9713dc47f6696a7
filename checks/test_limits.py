"""RS-LIMIT-*: open-file limits as a login session sees them (guide §9.4).

The Docker daemon's own limit (what containers inherit) is judged with the Docker checks.
"""

from __future__ import annotations

import pytest

from rs_preflight.judges import host as judge
from rs_preflight.model import Target
from rs_preflight.results import Verdict


@pytest.mark.rs("RS-LIMIT-01")
def test_nofile_soft(rs: Target) -> Verdict:
    found = rs.facts.get("ulimit_nofile")["soft"]
    return judge.at_least("login session nofile soft limit (ulimit -Sn)", found,
                          rs.thresholds["min"], rs.pre_note)


@pytest.mark.rs("RS-LIMIT-02")
def test_nofile_hard(rs: Target) -> Verdict:
    found = rs.facts.get("ulimit_nofile")["hard"]
    return judge.at_least("login session nofile hard limit (ulimit -Hn)", found,
                          rs.thresholds["min"], rs.pre_note)


@pytest.mark.rs("RS-LIMIT-03")
def test_nofile_hard_realtime(rs: Target) -> Verdict:
    found = rs.facts.get("ulimit_nofile")["hard"]
    return judge.at_least("realtime login session nofile hard limit (ulimit -Hn)", found,
                          rs.thresholds["min"], rs.pre_note)
