"""RS-LIMIT-*: open-file limits as R-Service's processes will get them (guide §9.4).

Two views, both must reach the minimum: a login session (``ulimit -Sn``/``-Hn``) and the
containers' — daemon.json ``default-ulimits``, else the running dockerd's own limit
(``/proc/<pid>/limits``), else systemd's ``LimitNOFILE`` for docker.service. Before Docker is
installed only the login view exists.
"""

from __future__ import annotations

import pytest

from rs_preflight.judge import limits as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


def _nofile(rs: Target, kind: str) -> Verdict:
    login = rs.facts.get("ulimit_nofile")[kind]
    daemon = rs.facts.get("daemon_json")
    container = judge.container_nofile(kind, daemon["config"], rs.facts.get("dockerd_limits"),
                                       rs.facts.get("docker_systemd"))
    return judge.nofile_views(kind, login, container, rs.thresholds["min"], rs.pre_note)


@pytest.mark.rs("RS-LIMIT-01")
def test_nofile_soft(rs: Target) -> Verdict:
    return _nofile(rs, "soft")


@pytest.mark.rs("RS-LIMIT-02")
def test_nofile_hard(rs: Target) -> Verdict:
    return _nofile(rs, "hard")


@pytest.mark.rs("RS-LIMIT-03")
def test_nofile_hard_realtime(rs: Target) -> Verdict:
    return _nofile(rs, "hard")
