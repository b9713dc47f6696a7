"""The Traefik/Docker standard of seeds/002 on a real Docker host, both ways: the
``docker_containers`` / ``docker_networks`` / ``daemon_json`` sections as the host prints them,
judged by ``judge/containers.py`` and ``judge/docker.py``.

One namespace host (dock182, Debian's dockerd 20.10 with vfs, Compose v2 as CLI plugin) runs a
Compose project ``tapbot`` of two services from local one-file images — ``proxy`` from
``rslab/traefik:v3.0`` with a Traefik router label, ``web`` on the internal
``database-network`` — and the external ``traefik-network``: the healthy replica. The broken
variants are made on the same host, each for one reason: a container started by hand without a
restart policy, a service stopped, a network declared internal created without it, daemon.json
without ``compress``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.containers import import_program
from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_preflight.gather.facts import SECTIONS
from rs_preflight.judge import containers as judge
from rs_preflight.judge.docker import log_rotation

pytestmark = pytest.mark.lab

COMPOSE_PLUGIN = "/opt/rs-lab/compose/docker-compose"
if os.geteuid() != 0 or shutil.which("dockerd") is None \
        or not Path(COMPOSE_PLUGIN).exists():  # pragma: no cover
    pytest.skip("needs root, dockerd and Compose v2 (scripts/setup, scripts/setup-compose)",
                allow_module_level=True)

INDEX = 182
NAME = f"dock{INDEX}"
ROTATED = {"max-size": "10m", "max-file": "3", "compress": "true"}
DAEMON = {"log-driver": "json-file", "log-opts": ROTATED}
COMPOSE = """\
name: tapbot
services:
  proxy:
    image: rslab/traefik:v3.0
    command: ["/traefik"]
    restart: unless-stopped
    network_mode: none
    labels:
      - "traefik.enable=true"
      - "traefik.http.routers.dashboard.rule=Host(`traefik2.tapbot.kz`)"
      - "traefik.http.routers.dir.rule=Host(`dir.tapbot.kz`) || Host(`pg.tapbot.kz`)"
  web:
    image: rslab/web
    command: ["/web"]
    restart: unless-stopped
    logging:
      driver: json-file
      options: {max-size: "10m", max-file: "3", compress: "true"}
    networks: [database-network]
networks:
  database-network:
    driver: bridge
    internal: true
"""
WANTED = {"database-network": {"driver": "bridge", "internal": True},
          "redis-network": {"driver": "bridge", "internal": True}}


def facts(host: LabHost, name: str) -> Any:
    """One fact section as the product gathers it: its command on the host, its parser."""
    section = SECTIONS[name]
    done = host.run(section.command(None), timeout=60)  # type: ignore[arg-type]
    return section.parse(done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def docker_host(host_lab: HostLab, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LabHost]:
    host = host_lab.add(HostSpec(
        NAME, INDEX, os_release("ubuntu", "24.04"), services=["docker"],
        extra_files={"/etc/docker/daemon.json": json.dumps(DAEMON)},
        symlinks={"/usr/libexec/docker/cli-plugins/docker-compose": COMPOSE_PLUGIN}))
    deadline = time.monotonic() + 60
    while host.run("docker info >/dev/null 2>&1").returncode != 0:
        assert time.monotonic() < deadline, "dockerd did not answer"
        time.sleep(0.5)
    work = tmp_path_factory.mktemp("traefik")
    for program in ("traefik", "web"):
        import_program(host, program, work)
    host.run("docker tag rslab/traefik rslab/traefik:v3.0 && "
             "docker network create --driver bridge traefik-network && "
             "mkdir -p /srv/tapbot", check=True, timeout=60)
    host.run("cat > /srv/tapbot/compose.yaml", input=COMPOSE, check=True)
    host.run("cd /srv/tapbot && docker compose up -d", check=True, timeout=120)
    yield host


def test_the_healthy_replica_passes_every_docker_requirement(docker_host: LabHost) -> None:
    containers = facts(docker_host, "docker_containers")
    networks = facts(docker_host, "docker_networks")
    daemon = facts(docker_host, "daemon_json")
    verdicts = {
        "DT-LOG-01": log_rotation(daemon, "10m", 3, compress=True),
        "DT-LOG-02": judge.container_logs(containers, "10m", 3, True),
        "DT-RESTART-01": judge.restart_policy(containers, ["unless-stopped"]),
        "DT-NET-01": judge.networks(networks,
                                    {"database-network": WANTED["database-network"]}),
        "DT-NET-02": judge.networks(networks, {"traefik-network": {"driver": "bridge",
                                                                   "internal": False}}),
        "DT-TRAEFIK-01": judge.image_running(containers, "traefik",
                                             {"min": "3.0", "below": "4"}),
        "DT-COMPOSE-01": judge.compose_services(containers),
    }
    outcomes = {rid: v.outcome for rid, v in verdicts.items()}
    assert outcomes == dict.fromkeys(verdicts, "passed"), \
        {rid: v.message for rid, v in verdicts.items()}
    assert judge.traefik_names(containers) == ["traefik2.tapbot.kz", "dir.tapbot.kz",
                                               "pg.tapbot.kz"]  # by router, as inspect lists
    network = next(n for n in networks if n["compose_network"] == "database-network")
    assert network["name"] == "tapbot_database-network" and network["internal"]


def test_each_broken_variant_fails_for_its_reason(docker_host: LabHost) -> None:
    host = docker_host
    # created while daemon.json says compress "true": its own option wins
    host.run("docker run -d --name stray --log-opt compress=false rslab/web /web && "
             "docker network create --driver bridge redis-network && "
             "cd /srv/tapbot && docker compose stop web", check=True, timeout=120)
    host.run("cat > /etc/docker/daemon.json",
             input=json.dumps({"log-driver": "json-file",
                               "log-opts": {"max-size": "10m", "max-file": "3"}}), check=True)
    try:
        containers = facts(host, "docker_containers")
        restart = judge.restart_policy(containers, ["unless-stopped"])
        assert restart.outcome == "failed" and restart.found == "stray (restart: no)"
        compose = judge.compose_services(containers)
        assert compose.outcome == "failed"
        assert "tapbot/web (exited, exit code " in compose.message
        nets = judge.networks(facts(host, "docker_networks"), WANTED)
        assert nets.outcome == "failed"
        assert nets.message == "networks not as declared: redis-network is not internal"
        daemon = facts(host, "daemon_json")
        rotation = log_rotation(daemon, "10m", 3, compress=True)
        assert rotation.outcome == "failed" and "not compressed" in rotation.message
        logs = judge.container_logs(containers, "10m", 3, True)
        assert (logs.outcome, logs.found) == ("failed", "stray (compress false)")
    finally:
        host.run("docker rm -f stray; docker network rm redis-network; "
                 "cd /srv/tapbot && docker compose start web", timeout=120)
        host.run("cat > /etc/docker/daemon.json", input=json.dumps(DAEMON), check=True)
