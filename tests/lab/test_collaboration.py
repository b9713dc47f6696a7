"""The collaboration-service catalogue (seeds/004, its Docker Compose form) run as a user runs
it against a lab replica, both ways.

Host co1 (every role: one VPS) runs Docker with a Compose project of two services from local
one-file images, and beside it the data services the document names, real: PostgreSQL 15
(Debian's, postgres-contrib included), Redis 7.0 with a password, RabbitMQ 3.10. The login
comes from the project's .env (the official images' variable names), given as env_files.
MongoDB is answered by NX-27017 (``rs_lab.mongodb``: MongoDB's wire protocol over SQLite, a real
server but not MongoDB, which cannot be installed here; it claims version 7.0.0). Nothing exists
here for one requirement, expected to fail for that reason only: CO-PG-02 (Debian 12 has no
plv8 package for any PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.containers import import_program
from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.mongodb import MONGO_ROOT
from rs_lab.preflight import Run, run_preflight

pytestmark = pytest.mark.lab

PG_BIN = Path("/usr/lib/postgresql/15/bin")
COMPOSE_PLUGIN = "/opt/rs-lab/compose/docker-compose"
if os.geteuid() != 0 or shutil.which("redis-server") is None or not PG_BIN.is_dir() \
        or not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists() \
        or not Path(COMPOSE_PLUGIN).exists():  # pragma: no cover
    pytest.skip("needs root, PostgreSQL 15, redis-server, rabbitmq-server, dockerd and Compose "
                "(scripts/setup)", allow_module_level=True)

NAME = "co1"
ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "examples" / "catalogues" / "collaboration.yaml"
ENV = """\
POSTGRES_USER=collab
POSTGRES_PASSWORD=lab-pg-pw
POSTGRES_DB=collab
REDIS_PASSWORD=lab-redis-pw
RABBITMQ_DEFAULT_USER=collab
RABBITMQ_DEFAULT_PASS=lab-rabbit-pw
"""
COMPOSE = """\
name: collab
services:
  app:
    image: rslab/app
    command: ["/app"]
    restart: unless-stopped
    network_mode: none
  nginx:
    image: rslab/nginx
    command: ["/nginx"]
    restart: unless-stopped
    network_mode: none
"""
RABBIT_ENV = ("HOME=/var/lib/rs-rabbit RABBITMQ_NODENAME=rabbit@localhost "
              "RABBITMQ_MNESIA_BASE=/var/lib/rs-rabbit/mnesia "
              "RABBITMQ_LOG_BASE=/var/lib/rs-rabbit/log "
              "RABBITMQ_ENABLED_PLUGINS_FILE=/var/lib/rs-rabbit/plugins "
              "RABBITMQ_CONFIG_FILE=/var/lib/rs-rabbit/none")
PIDS: dict[str, str] = {}


def bg(host: LabHost, command: str, key: str = "") -> None:
    pid = host.run(f"nohup {command} >/dev/null 2>&1 & echo $!", check=True).stdout.strip()
    if key:
        PIDS[key] = pid


def wait_port(host: LabHost, port: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    probe = f"exec 3<>/dev/tcp/{host.ipv4}/{port}"
    while host.run(["bash", "-c", probe]).returncode != 0:
        assert time.monotonic() < deadline, f"{NAME}: nothing listens on {port}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def co_host(host_lab: HostLab, lab_lease: Lease,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHost]:
    host = host_lab.add(HostSpec(
        NAME, lab_lease.take(), os_release("debian", "12"), services=["docker"],
        extra_files={"/var/lib/rs-rabbit/plugins": "[].\n"},
        symlinks={"/usr/libexec/docker/cli-plugins/docker-compose": COMPOSE_PLUGIN}))
    addr = host.ipv4
    host.run(f"mkdir -p /var/lib/rs-pg && echo lab-pg-pw > /var/lib/rs-pg/pw && "
             f"chown -R postgres /var/lib/rs-pg && su postgres -c "
             f"'{PG_BIN}/initdb -D /var/lib/rs-pg/data -U collab --auth-host=scram-sha-256 "
             "--pwfile=/var/lib/rs-pg/pw >/dev/null' && rm /var/lib/rs-pg/pw && "
             "echo 'host all all 10.0.0.0/8 scram-sha-256' >> /var/lib/rs-pg/data/pg_hba.conf",
             check=True, timeout=120)
    bg(host, f"su postgres -c \"{PG_BIN}/postgres -D /var/lib/rs-pg/data -p 5432 -k /tmp "
             f"-c listen_addresses={addr}\"")
    bg(host, f"redis-server --port 6379 --bind {addr} --save '' --requirepass lab-redis-pw",
       "redis")
    bg(host, f"env {RABBIT_ENV} /usr/lib/rabbitmq/bin/rabbitmq-server")
    host.run("mkdir -p /var/lib/rs-mongo", check=True)
    bg(host, f"{MONGO_ROOT}/bin/nx-27017 --host {addr} -p 27017 --data-dir /var/lib/rs-mongo "
             "--db /var/lib/rs-mongo.db --log-file /tmp/nx.log --pid-file /tmp/nx.pid")
    for port in (5432, 6379, 5672, 27017):
        wait_port(host, port)
    host.run(f"su postgres -c \"{PG_BIN}/psql -h /tmp -U collab -d postgres -c "
             "'CREATE DATABASE collab'\"", check=True, timeout=60)
    deadline = time.monotonic() + 60
    while host.run("docker info >/dev/null 2>&1").returncode != 0:
        assert time.monotonic() < deadline, "dockerd did not answer"
        time.sleep(0.5)
    work = tmp_path_factory.mktemp("collab")
    for program in ("app", "nginx"):
        import_program(host, program, work)
    host.run("mkdir -p /srv/collab && cat > /srv/collab/compose.yaml", input=COMPOSE,
             check=True)
    host.run("cd /srv/collab && docker compose up -d", check=True, timeout=120)
    yield host


def run(host: LabHost, host_lab: HostLab, folder: Path, *catalogues: Path) -> Run:
    (folder / ".env").write_text(ENV)
    lines = ["name: collab-lab", "profile: standard", "phase: post",
             "env_files:", "  - {path: .env, roles: [app, postgres, mongodb, redis, rabbitmq]}",
             "ssh:", "  user: root", f"  identity_file: {host_lab.identity_file}",
             f"  known_hosts: {host_lab.known_hosts}", "  connect_timeout: 3",
             "  command_timeout: 30", "hosts:",
             f"  {NAME}: {{address: {host.ipv4}, "
             "roles: [app, postgres, mongodb, redis, rabbitmq]}"]
    site = folder / "site.yaml"
    site.write_text("\n".join(lines) + "\n")
    args = [a for c in (CATALOGUE, *catalogues) for a in ("--rs-catalogue", str(c))]
    return run_preflight(site, *args, cwd=folder)


def outcomes(got: Run) -> dict[str, dict[str, Any]]:
    return {rid: r for (rid, _), r in got.records.items()}


def test_the_replica_passes_all_but_plv8_which_cannot_be_installed_here(
        co_host: LabHost, host_lab: HostLab, tmp_path: Path) -> None:
    got = outcomes(run(co_host, host_lab, tmp_path))
    not_passed = {rid: r["message"] for rid, r in got.items() if r["outcome"] != "passed"}
    assert set(not_passed) == {"CO-PG-02"}, not_passed
    assert "cannot create plv8" in got["CO-PG-02"]["message"]
    assert got["CO-MONGO-01"]["found"].endswith("version 7.0.0")
    assert "PostgreSQL 15." in got["CO-PG-01"]["found"]
    assert got["CO-REDIS-01"]["outcome"] == "passed" and "7.0" in got["CO-REDIS-01"]["found"]
    assert got["CO-MQ-01"]["found"].endswith("version 3.10.8")
    assert got["CO-COMPOSE-01"]["found"] == "2 of 2 container(s) running"
    text = str(got)
    assert "lab-pg-pw" not in text and "lab-redis-pw" not in text


def test_each_broken_variant_fails_for_its_reason(
        co_host: LabHost, host_lab: HostLab, tmp_path: Path) -> None:
    """A stopped Compose service, Redis gone, and — composed onto the catalogue — bounds the
    replica does not meet: a RabbitMQ range it is not in, a full disk, memory and file table."""
    tight = tmp_path / "tight.yaml"
    tight.write_text(
        "requirements:\n"
        "  CO-MQ-01:\n    kind: service_answers\n"
        "    params: {protocol: amqp, port: 5672, version: {min: '3.12'}}\n"
        "    title: RabbitMQ 3.12 or newer\n    section: test\n    roles: [rabbitmq]\n"
        "    phases: [post]\n    severity: blocker\n"
        "  CO-DISK-01:\n    kind: filesystem_usage\n    params: {max_percent: 0, paths: [/]}\n"
        "    title: empty disk\n    section: test\n    roles: [app]\n    phases: [post]\n"
        "    severity: warning\n"
        "  CO-MEM-01:\n    kind: memory_usage\n    params: {max_percent: 0}\n"
        "    title: no memory used\n    section: test\n    roles: [app]\n    phases: [post]\n"
        "    severity: warning\n"
        "  CO-FD-01:\n    kind: file_descriptors\n    params: {max_percent: 0}\n"
        "    title: no file open\n    section: test\n    roles: [app]\n    phases: [post]\n"
        "    severity: warning\n")
    co_host.run(f"kill {PIDS['redis']}; cd /srv/collab && docker compose stop nginx",
                check=True, timeout=120)
    try:
        got = outcomes(run(co_host, host_lab, tmp_path, tight))
    finally:
        co_host.run("cd /srv/collab && docker compose start nginx", timeout=120)
    failed = {rid for rid, r in got.items() if r["outcome"] == "failed"}
    assert failed == {"CO-PG-02", "CO-COMPOSE-01", "CO-REDIS-01", "CO-MQ-01",
                      "CO-DISK-01", "CO-MEM-01", "CO-FD-01"}, \
        {rid: r["message"] for rid, r in got.items() if r["outcome"] != "passed"}
    assert "collab/nginx (exited" in got["CO-COMPOSE-01"]["message"]
    assert got["CO-REDIS-01"]["message"].startswith("Redis does not answer at ")
    assert "3.10.8 is outside >= 3.12" in got["CO-MQ-01"]["message"]
