"""The service probes of issue 14 (``gather/probes/services.py``, ``gather/tunnel.py``) against
real servers, both ways: one namespace host (svc1) runs Redis (open, and with a password),
RabbitMQ (Debian's 3.10) and PostgreSQL 15 (Debian's; no plv8 exists for it in Debian 12),
plus a Redis on its loopback only — reached through the host's SSH connection, as Altcraft's
MongoDB and SSDB on 127.0.0.1 are. MongoDB has no real server here: only its failure paths
are exercised (pymongo against a port that speaks something else, and against nothing).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_preflight.gather.access import Connections
from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.probes.services import LoginRefused, ask, postgresql
from rs_preflight.gather.tunnel import forward, ssh_transport
from rs_preflight.spec.site import load_site

pytestmark = pytest.mark.lab

PG_BIN = Path("/usr/lib/postgresql/15/bin")
NEEDS = ("redis-server", "epmd")
if os.geteuid() != 0 or any(shutil.which(n) is None for n in NEEDS) \
        or not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists() \
        or not PG_BIN.is_dir():  # pragma: no cover
    pytest.skip("needs root, redis-server, rabbitmq-server and PostgreSQL 15 "
                "(scripts/setup)", allow_module_level=True)

NAME = "svc1"
REDIS, REDIS_AUTH, REDIS_LOOPBACK, AMQP, PG = 6379, 6380, 4410, 5672, 5432
PASSWORD = "lab-redis-pw"
RABBIT_ENV = ("HOME=/var/lib/rs-rabbit RABBITMQ_NODENAME=rabbit@localhost "
              "RABBITMQ_MNESIA_BASE=/var/lib/rs-rabbit/mnesia "
              "RABBITMQ_LOG_BASE=/var/lib/rs-rabbit/log "
              "RABBITMQ_ENABLED_PLUGINS_FILE=/var/lib/rs-rabbit/plugins "
              "RABBITMQ_CONFIG_FILE=/var/lib/rs-rabbit/none")


def start(host: LabHost, command: str) -> None:
    """A server in the host's background; it ends with the host's PID namespace."""
    host.run(f"nohup {command} >/dev/null 2>&1 &", check=True)


def wait_port(host: LabHost, port: int, address: str = "127.0.0.1", seconds: float = 60
              ) -> None:
    deadline = time.monotonic() + seconds
    probe = f"exec 3<>/dev/tcp/{address}/{port}"
    while host.run(["bash", "-c", probe]).returncode != 0:
        assert time.monotonic() < deadline, f"{NAME}: nothing listens on {address}:{port}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def services(host_lab: HostLab, lab_lease: Lease) -> Iterator[LabHost]:
    host = host_lab.add(HostSpec(NAME, lab_lease.take(), os_release("debian", "12")))
    addr = host.ipv4
    start(host, f"redis-server --port {REDIS} --bind {addr} --save '' --protected-mode no")
    start(host, f"redis-server --port {REDIS_AUTH} --bind {addr} --save '' "
                f"--requirepass {PASSWORD}")
    start(host, f"redis-server --port {REDIS_LOOPBACK} --bind 127.0.0.1 --save ''")
    host.run("mkdir -p /var/lib/rs-rabbit && touch /var/lib/rs-rabbit/plugins", check=True)
    start(host, f"env {RABBIT_ENV} /usr/lib/rabbitmq/bin/rabbitmq-server")
    host.run(f"mkdir -p /var/lib/rs-pg && chown postgres /var/lib/rs-pg && su postgres -c "
             f"'{PG_BIN}/initdb -D /var/lib/rs-pg/data -A trust -U collab >/dev/null' && "
             "echo 'host all all 10.0.0.0/8 trust' >> /var/lib/rs-pg/data/pg_hba.conf",
             check=True, timeout=120)
    start(host, f"su postgres -c \"{PG_BIN}/postgres -D /var/lib/rs-pg/data -p {PG} "
                f"-k /tmp -c listen_addresses={addr}\"")
    for port in (REDIS, REDIS_AUTH, AMQP, PG):
        wait_port(host, port, addr)
    wait_port(host, REDIS_LOOPBACK)
    yield host


def test_redis_answers_with_its_version(services: LabHost) -> None:
    got = ask("redis", services.ipv4, REDIS, timeout=5)
    assert got.version and got.version.startswith("7."), got
    assert ask("ssdb", services.ipv4, REDIS, timeout=5).detail == "SSDB answered PING"


def test_redis_with_a_password_refuses_a_login_without_it(services: LabHost) -> None:
    with pytest.raises(LoginRefused):
        ask("redis", services.ipv4, REDIS_AUTH, timeout=5)
    assert ask("redis", services.ipv4, REDIS_AUTH, timeout=5, password=PASSWORD).version


def test_rabbitmq_answers_connection_start_with_its_version(services: LabHost) -> None:
    got = ask("amqp", services.ipv4, AMQP, timeout=5)
    assert got.version == "3.10.8" and "RabbitMQ" in got.detail


def test_a_port_speaking_another_protocol_is_not_amqp(services: LabHost) -> None:
    with pytest.raises(ProbeError, match="did not answer the AMQP protocol header"):
        ask("amqp", services.ipv4, REDIS, timeout=2)


def test_mongodb_against_what_is_not_mongodb_and_against_nothing(services: LabHost) -> None:
    with pytest.raises(Unreachable):
        ask("mongodb", services.ipv4, REDIS, timeout=2)
    with pytest.raises(Unreachable):
        ask("mongodb", services.ipv4, 27017, timeout=2)


def test_postgresql_version_and_extensions(services: LabHost) -> None:
    version, found = postgresql(services.ipv4, PG, 5, "collab", None, "postgres",
                                ["plv8", "pgcrypto"])
    assert version.startswith("15.")
    assert found["plv8"] is None and found["pgcrypto"]  # Debian 12 has no plv8 package


def test_a_loopback_service_is_reached_through_the_ssh_connection(
        services: LabHost, host_lab: HostLab, tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(
        f"name: tunnel\nssh:\n  user: root\n  identity_file: {host_lab.identity_file}\n"
        f"  known_hosts: {host_lab.known_hosts}\n  connect_timeout: 3\n"
        f"hosts:\n  {NAME}: {{address: {services.ipv4}, roles: [app]}}\n")
    site = load_site(site_file)
    connections = Connections(site)
    try:
        transport = ssh_transport(connections.get(site.hosts[0]))
        with forward(transport, "127.0.0.1", REDIS_LOOPBACK, timeout=5) as (address, port):
            got = ask("redis", address, port, timeout=5)
        assert got.version and address == "127.0.0.1"
        with pytest.raises(Unreachable), forward(transport, "127.0.0.1", 4420, timeout=5) \
                as (address, port):
            ask("ssdb", address, port, timeout=3)
    finally:
        connections.close()
    with pytest.raises(Unreachable):  # from the runner the loopback service is not there
        ask("redis", services.ipv4, REDIS_LOOPBACK, timeout=2)
