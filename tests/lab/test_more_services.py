"""The lab services issue 14's systems need, each started, asked with its own client, stopped.

Real: Redis (Debian's redis-server 7.0) and RabbitMQ (Debian's 3.10, a two-node cluster).
CouchDB- and MongoDB-compatible servers that are not CouchDB and MongoDB (none can be installed
here): PouchDB Server (CouchDB's HTTP API, real replication) and NX-27017 (MongoDB's wire
protocol over SQLite); what they answer differently is asserted too, so their docstrings stay
true. Each service runs in namespaces of the module's lease; nothing is resolved by name.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from rs_lab.couchdb import COUCH_ROOT, CouchServer
from rs_lab.indices import Lease
from rs_lab.mongodb import MONGO_ROOT, MongoServer
from rs_lab.netns import sh
from rs_lab.rabbitmq import AMQP_PORT, SERVER, RabbitCluster
from rs_lab.redis_server import RedisServer
from rs_lab.scenario import LabSite, Scenario
from rs_lab.service import LabService
from rs_lab.workdir import remove, service_root

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    root = service_root("more-services")
    yield root
    remove(root)


def assert_gone(service: LabService, port: int) -> None:
    """Stopped: nothing answers, its namespace is gone, a second stop is harmless."""
    service.stop()
    service.stop()
    with pytest.raises(OSError):
        socket.create_connection((service.ipv4, port), timeout=1).close()
    present = sh(["ip", "netns", "list"], check=False).stdout.split()
    assert service.ns.name not in present


@pytest.mark.skipif(not Path("/usr/bin/redis-server").exists(), reason="scripts/setup: redis")
def test_redis_answers_redis_py_and_stops(lab_lease: Lease, work: Path) -> None:
    redis = RedisServer(lab_lease.take("redis"), work / "redis", password="lab-redis-pw")
    with redis:
        assert redis.startup_seconds is not None
        for address in redis.addresses:
            client = redis.client(address)
            assert client.ping() is True
        info = redis.client().info("server")
        assert str(info["redis_version"]).startswith("7.")
        redis.client().set("rs-lab", "ok")
        assert redis.client().get("rs-lab") == "ok"
    assert_gone(redis, 6379)


@pytest.mark.skipif(not SERVER.exists(), reason="scripts/setup: rabbitmq-server")
def test_rabbitmq_two_nodes_form_one_cluster(lab_lease: Lease, work: Path) -> None:
    cluster = RabbitCluster(lab_lease.block(2, "rabbitmq")[0], work / "rabbitmq")
    with cluster:
        names = sorted(n.node_name for n in cluster.nodes)
        assert names == [f"rabbit@{n.ipv4}" for n in sorted(cluster.nodes,
                                                             key=lambda n: n.node_name)]
        for node in cluster.nodes:  # every node sees both running
            assert node.running_nodes() == names
        overview = cluster.nodes[1].overview()
        assert overview["rabbitmq_version"] == "3.10.8"
        assert {n["name"] for n in cluster.nodes[0].get("/nodes")} == set(names)
        # AMQP 0-9-1 answers the protocol header with Connection.Start on IPv4 and IPv6
        for address in cluster.nodes[1].addresses:
            with socket.create_connection((address, AMQP_PORT), timeout=5) as sock:
                sock.sendall(b"AMQP\x00\x00\x09\x01")
                frame = sock.recv(4096)
            assert frame[:1] == b"\x01" and b"RabbitMQ" in frame
        status = cluster.nodes[0].ctl("cluster_status")
        assert status.returncode == 0, status.stderr
        assert all(name in status.stdout for name in names)
    for node in cluster.nodes:
        assert_gone(node, AMQP_PORT)


@pytest.mark.skipif(not (COUCH_ROOT / "node_modules").exists(), reason="scripts/setup-couch")
def test_couch_pair_replicates_for_real(lab_lease: Lease, work: Path) -> None:
    a = CouchServer(lab_lease.take("couch1"), work / "couch1")
    b = CouchServer(lab_lease.take("couch2"), work / "couch2")
    with a, b:
        for server in (a, b):
            assert server.put("/kazoo") == {"ok": True}
        a.replicate("kazoo", b)
        b.replicate("kazoo", a)
        a.put("/kazoo/from-a", {"written": "on a"})
        b.put("/kazoo/from-b", {"written": "on b"})
        deadline = time.monotonic() + 30
        while True:  # bounded: replication is continuous, not instant
            try:
                if b.get("/kazoo/from-a")["written"] == "on a" and \
                        a.get("/kazoo/from-b")["written"] == "on b":
                    break
            except requests.HTTPError:
                pass
            assert time.monotonic() < deadline, "no replication within 30 s"
            time.sleep(0.2)
        state = a.get(f"/_replicator/kazoo-to-{b.ipv4}")
        assert state["_replication_state"] == "triggered"
        # what differs from CouchDB 2/3 (rs_lab/couchdb.py says so)
        root = a.get("/")
        assert "couchdb" not in root and root["version"] == "4.2.0"
        with pytest.raises(requests.HTTPError):
            a.get("/_scheduler/jobs")
        assert requests.get(f"{b.url6}/kazoo", timeout=5).json()["doc_count"] >= 2
    assert_gone(a, 5984)
    assert_gone(b, 5984)


@pytest.mark.skipif(not (MONGO_ROOT / "bin" / "nx-27017").exists(), reason="scripts/setup-mongo")
def test_mongo_compatible_server_answers_pymongo(lab_lease: Lease, work: Path) -> None:
    mongo = MongoServer(lab_lease.take("mongo"), work / "mongo")
    with mongo:
        for address in mongo.addresses:
            with mongo.client(address) as client:
                assert client.admin.command("ping")["ok"] == 1
        with mongo.client() as client:
            hello = client.admin.command("hello")
            assert hello["isWritablePrimary"] is True and hello["maxWireVersion"] >= 17
            db = client["altcraft"]
            db.events.insert_one({"kind": "probe", "n": 1})
            found = db.events.find_one({"kind": "probe"})
            assert found is not None and found["n"] == 1
            assert "altcraft" in client.list_database_names()
            build = client.admin.command("buildInfo")  # a fixed claim (rs_lab/mongodb.py)
            assert build["version"] == "7.0.0" and build["process"] == "nx_27017"
    assert_gone(mongo, 27017)


@pytest.mark.skipif(not (Path("/usr/bin/redis-server").exists() and SERVER.exists()),
                    reason="scripts/setup: redis, rabbitmq")
def test_optional_parts_come_up_where_the_env_files_say(
        lab_site: Callable[[Scenario], LabSite]) -> None:
    site = lab_site(Scenario.small(docker=False).only("hosts", "redis", "rabbitmq"))
    rt1 = site.host("rt1").ipv4
    assert site.env["REDIS_HOST"] == rt1 == site.env["RABBIT_MQ_HOST"]
    redis = site.services["redis"]
    assert redis.ipv4 == rt1 and redis.client().ping() is True
    rabbit = site.services["rabbitmq"]
    assert rabbit.ipv4 == rt1 and rabbit.running_nodes() == [f"rabbit@{rt1}"]
    assert "redis" not in Scenario.small().parts  # the small site stays as it was
