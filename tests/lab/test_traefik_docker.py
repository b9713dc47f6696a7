"""The Traefik/Docker standard of seeds/002 on a real Docker host, both ways: the
``docker_containers`` / ``docker_networks`` / ``daemon_json`` sections as the host prints them,
judged by ``judge/containers.py`` and ``judge/docker.py``.

One namespace host (dock1, Debian's dockerd 20.10 with vfs, Compose v2 as CLI plugin) runs a
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
from rs_lab.dns import DnsServer, ZoneSpec
from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.pki import Pki
from rs_lab.preflight import Run, run_preflight
from rs_preflight.gather.facts import SECTIONS
from rs_preflight.judge import containers as judge
from rs_preflight.judge.docker import log_rotation

pytestmark = pytest.mark.lab

COMPOSE_PLUGIN = "/opt/rs-lab/compose/docker-compose"
if os.geteuid() != 0 or shutil.which("dockerd") is None \
        or not Path(COMPOSE_PLUGIN).exists():  # pragma: no cover
    pytest.skip("needs root, dockerd and Compose v2 (scripts/setup, scripts/setup-compose)",
                allow_module_level=True)

NAME = "dock1"
CATALOGUE = Path(__file__).resolve().parents[2] / "examples" / "catalogues" / \
    "traefik-docker.yaml"
ELSEWHERE = "10.255.255.1"  # a DNS answer only: nothing is ever sent there
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
      - "traefik.http.routers.dashboard.rule=Host(`traefik2.tapbot.lab`)"
      - "traefik.http.routers.dir.rule=Host(`dir.tapbot.lab`) || Host(`pg.tapbot.lab`)"
  web:
    image: rslab/web
    command: ["/web"]
    restart: unless-stopped
    logging:
      driver: json-file
      options: {max-size: "10m", max-file: "3", compress: "true"}
    networks: [database-network, redis-network]
networks:
  database-network:
    driver: bridge
    internal: true
  redis-network:
    driver: bridge
    internal: true
"""
# What Traefik does for the routes, done by nginx on the host (no Traefik image can be had
# here): TLS for the routed names with the lab CA's certificate, HTTP redirected to HTTPS.
NGINX = """\
pid /run/rs-nginx.pid;
error_log /tmp/rs-nginx-error.log;
events {}
http {
  access_log off;
  server { listen 80 default_server; return 301 https://$host$request_uri; }
  server { listen 80; server_name plain.tapbot.lab; return 200 "plain\\n"; }
  server {
    listen 443 ssl default_server;
    ssl_certificate /etc/rs-nginx/chain.pem; ssl_certificate_key /etc/rs-nginx/key.pem;
    return 200 "routed\\n";
  }
}
"""
ROUTED = ["traefik2.tapbot.lab", "dir.tapbot.lab", "pg.tapbot.lab"]
WANTED = {"database-network": {"driver": "bridge", "internal": True},
          "redis-network": {"driver": "bridge", "internal": True}}


def facts(host: LabHost, name: str) -> Any:
    """One fact section as the product gathers it: its command on the host, its parser."""
    section = SECTIONS[name]
    done = host.run(section.command(None), timeout=60)  # type: ignore[arg-type]
    return section.parse(done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("traefik-pki"))


@pytest.fixture(scope="module")
def docker_host(host_lab: HostLab, lab_lease: Lease, pki: Pki,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHost]:
    leaf = pki.issue("routes", ROUTED)
    host = host_lab.add(HostSpec(
        NAME, lab_lease.take(), os_release("ubuntu", "24.04"), services=["docker"],
        extra_files={"/etc/docker/daemon.json": json.dumps(DAEMON),
                     "/etc/rs-nginx/nginx.conf": NGINX,
                     "/etc/rs-nginx/chain.pem": leaf.chain_path.read_text(),
                     "/etc/rs-nginx/key.pem": leaf.key_path.read_text()},
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
    host.run("nginx -c /etc/rs-nginx/nginx.conf >/dev/null 2>&1", check=True)
    yield host


@pytest.fixture(scope="module")
def dns(docker_host: LabHost, lab_lease: Lease, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[DnsServer]:
    names = {n: docker_host.ipv4 for n in (*ROUTED, "plain.tapbot.lab")}
    spec = ZoneSpec("tapbot.lab", overrides={"*": None, "@": None}, spf=None, mx_names=(),
                    hosts={**names, "logs2.tapbot.lab": ELSEWHERE})
    server = DnsServer(lab_lease.take(), tmp_path_factory.mktemp("traefik-dns"), spec)
    with server:
        yield server


def run(host: LabHost, host_lab: HostLab, dns: DnsServer, pki: Pki, folder: Path,
        names: list[str]) -> Run:
    """rs-preflight with the Traefik/Docker catalogue, phase post, as a user runs it.
    DT-TIME-01 is left out: time synchronisation is R-Service's kind, proven with the lab NTP
    server in test_host_checks.py."""
    lines = ["name: tapbot-lab", "profile: standard", "ssh:", "  user: root",
             f"  identity_file: {host_lab.identity_file}",
             f"  known_hosts: {host_lab.known_hosts}", "  connect_timeout: 3",
             "  command_timeout: 30", "hosts:",
             f"  {NAME}: {{address: {host.ipv4}, roles: [docker, traefik], "
             f"names: [{', '.join(names)}]}}",
             f"dns: {{resolvers: [{dns.ipv4}]}}", f"tls: {{ca_bundle: {pki.root_path}}}"]
    site = folder / "site.yaml"
    site.write_text("\n".join(lines) + "\n")
    return run_preflight(site, "--rs-catalogue", str(CATALOGUE), "--phase", "post",
                         "-k", "not DT-TIME-01", cwd=folder)


def test_the_healthy_replica_passes_every_requirement(
        docker_host: LabHost, host_lab: HostLab, dns: DnsServer, pki: Pki,
        tmp_path: Path) -> None:
    got = run(docker_host, host_lab, dns, pki, tmp_path, ["traefik2.tapbot.lab"])
    outcomes = {rid: r["outcome"] for (rid, _), r in got.records.items()}
    assert outcomes == {rid: "passed" for rid in outcomes}, \
        {rid: r["message"] for (rid, _), r in got.records.items() if r["outcome"] != "passed"}
    assert set(outcomes) == {"DT-DOCKER-01", "DT-DOCKER-02", "DT-LOG-01", "DT-LOG-02",
                             "DT-RESTART-01", "DT-NET-01", "DT-NET-02", "DT-TRAEFIK-01",
                             "DT-ROUTE-01", "DT-ROUTE-02", "DT-ROUTE-03", "DT-COMPOSE-01",
                             "DT-DISK-01", "DT-MEM-01"}
    assert got.code == 0
    # the routed names: the host's (traefik2) and the Host rules of the labels (dir, pg)
    routes = got.records[("DT-ROUTE-01", NAME)]
    assert all(n in routes["message"] + str(routes["found"]) for n in ROUTED), \
        (routes["message"], routes["found"])


def test_each_broken_variant_fails_the_run_for_its_reason(
        docker_host: LabHost, host_lab: HostLab, dns: DnsServer, pki: Pki,
        tmp_path: Path) -> None:
    host = docker_host
    host.run("docker run -d --name stray --log-opt compress=false rslab/web /web && "
             "docker network create --driver bridge redis-network && "
             "cd /srv/tapbot && docker compose stop web", check=True, timeout=120)
    host.run("cat > /etc/docker/daemon.json",
             input=json.dumps({"log-driver": "json-file",
                               "log-opts": {"max-size": "10m", "max-file": "3"}}), check=True)
    try:
        got = run(host, host_lab, dns, pki, tmp_path,
                  ["traefik2.tapbot.lab", "logs2.tapbot.lab", "plain.tapbot.lab"])
    finally:
        host.run("docker rm -f stray; docker network rm redis-network; "
                 "cd /srv/tapbot && docker compose start web", timeout=120)
        host.run("cat > /etc/docker/daemon.json", input=json.dumps(DAEMON), check=True)
    rec = {rid: r for (rid, _), r in got.records.items()}
    failing = {rid for rid, r in rec.items() if r["outcome"] == "failed"}
    assert failing == {"DT-LOG-01", "DT-LOG-02", "DT-RESTART-01", "DT-NET-01", "DT-ROUTE-01",
                       "DT-ROUTE-02", "DT-ROUTE-03", "DT-COMPOSE-01"}, \
        {rid: r["message"] for rid, r in rec.items()}
    assert "not compressed" in rec["DT-LOG-01"]["message"]
    assert rec["DT-LOG-02"]["found"] == "stray (compress false)"
    assert rec["DT-RESTART-01"]["found"] == "stray (restart: no)"
    assert "redis-network is not internal" in rec["DT-NET-01"]["message"]
    assert "logs2.tapbot.lab resolves to 10.255.255.1" in rec["DT-ROUTE-01"]["message"]
    assert "plain.tapbot.lab" in rec["DT-ROUTE-02"]["message"]
    assert "plain.tapbot.lab" in rec["DT-ROUTE-03"]["message"]
    assert "tapbot/web (exited" in rec["DT-COMPOSE-01"]["message"]
    assert got.code == 1


def test_the_sections_as_the_host_prints_them_judged(docker_host: LabHost) -> None:
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
    assert judge.traefik_names(containers) == ["traefik2.tapbot.lab", "dir.tapbot.lab",
                                               "pg.tapbot.lab"]  # by router, as inspect lists
    network = next(n for n in networks if n["compose_network"] == "database-network")
    assert network["name"] == "tapbot_database-network" and network["internal"]


def test_the_sections_of_a_broken_host_judged(docker_host: LabHost) -> None:
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
