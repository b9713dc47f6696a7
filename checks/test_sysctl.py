"""Kind ``sysctl``: a numeric kernel setting at least a minimum (RS-SYSCTL-*, guide §9.4).

The keys gathered are the ones the catalogue's ``sysctl`` requirements name (``params.key``):
one more requirement of this kind is one catalogue entry.
"""

from __future__ import annotations

import pytest

from rs_preflight.judge import sysctl as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("sysctl")
def test_sysctl(rs: Target) -> Verdict:
    return judge.sysctl_at_least(rs.params["key"], rs.facts.get("sysctl"),
                                 rs.facts.get("sysctl_persisted"), rs.params["min"],
                                 rs.pre_note)
