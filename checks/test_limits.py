"""Kind ``nofile`` (RS-LIMIT-*): open-file limits as R-Service's processes will get them
(guide §9.4), the soft or the hard one (``params.limit``).

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


@pytest.mark.kind("nofile")
def test_nofile(rs: Target) -> Verdict:
    kind = rs.params["limit"]  # soft | hard
    login = rs.facts.get("ulimit_nofile")[kind]
    daemon = rs.facts.get("daemon_json")
    container = judge.container_nofile(kind, daemon["config"], rs.facts.get("dockerd_limits"),
                                       rs.facts.get("docker_systemd"))
    return judge.nofile_views(kind, login, container, rs.params["min"], rs.pre_note)
