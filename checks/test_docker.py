"""RS-DOCKER-*: the Docker Engine, Compose v2 and container log rotation (guide §9.3)."""

from __future__ import annotations

import pytest

from rs_preflight.judge import docker as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("docker_engine")
def test_engine_runs(rs: Target) -> Verdict:
    return judge.engine(rs.facts.get("docker_version"))


@pytest.mark.kind("docker_compose")
def test_compose_v2(rs: Target) -> Verdict:
    return judge.compose(rs.facts.get("docker_compose"), rs.params["min_major"])


@pytest.mark.kind("docker_log_rotation")
def test_logs_rotate(rs: Target) -> Verdict:
    return judge.log_rotation(rs.facts.get("daemon_json"), rs.params["max_size"],
                              rs.params["max_file"], bool(rs.params.get("compress", False)))
