"""A Docker host's containers and networks as a standard declares them (seeds/002: json-file
10m × 3 compressed, ``restart: unless-stopped``, internal networks, Traefik 3, every Compose
service running). Glue only: ``docker inspect`` facts, judged by
:mod:`rs_preflight.judge.containers`.
"""

from __future__ import annotations

import pytest

from rs_preflight.judge import containers as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("container_log_rotation")
def test_container_logs_rotate(rs: Target) -> Verdict:
    return judge.container_logs(rs.facts.get("docker_containers"), rs.params["max_size"],
                                rs.params["max_file"], bool(rs.params.get("compress", False)))


@pytest.mark.kind("container_restart_policy")
def test_containers_restart(rs: Target) -> Verdict:
    return judge.restart_policy(rs.facts.get("docker_containers"), rs.params["policies"])


@pytest.mark.kind("docker_networks")
def test_networks_as_declared(rs: Target) -> Verdict:
    return judge.networks(rs.facts.get("docker_networks"), rs.params["networks"])


@pytest.mark.kind("container_image_running")
def test_image_runs(rs: Target) -> Verdict:
    return judge.image_running(rs.facts.get("docker_containers"), rs.params["image"],
                               rs.params.get("version") or {})


@pytest.mark.kind("compose_services_running")
def test_compose_services_run(rs: Target) -> Verdict:
    return judge.compose_services(rs.facts.get("docker_containers"), rs.params.get("project"),
                                  rs.params.get("services") or ())
