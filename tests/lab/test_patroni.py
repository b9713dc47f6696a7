"""RS-PG-05 end to end against a real Patroni cluster, as a user runs the product.

Patroni 4.1.5 (PyPI, its own venv), etcd 3.4 (Debian) and PostgreSQL 15 (Debian): etcd and
members m1-m3 in four namespaces of the module's lease, each member with PostgreSQL on :5432 and
the REST API on :8008 (``rs_lab.patroni``). The product runs as ``python -m rs_preflight.cli
--site site.yaml -k RS-PG-05`` in a fresh folder; ``rs-preflight-report/results.json`` is read.
The db hosts are given by address (``ssh: false``): nothing is resolved. Each broken variant is
undone afterwards and the next test starts from a healthy cluster (bounded waits, no timed
assertions). Everything is torn down, also on failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.indices import Lease
from rs_lab.patroni import PATRONI, Member, PatroniCluster, PatroniSpec
from rs_lab.preflight import run_preflight

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or not PATRONI.exists() or shutil.which("etcd") is None:  # pragma: no cover
    pytest.skip("needs root, etcd and Patroni (scripts/setup-patroni)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
SECRETS = (PatroniSpec().superuser.password, PatroniSpec().replicator.password)


@pytest.fixture(scope="module")
def patroni(lab_lease: Lease) -> Iterator[PatroniCluster]:
    cluster = PatroniCluster(PatroniSpec(members=3), index=lab_lease.block(4, "patroni")[0])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def restore(cluster: PatroniCluster) -> None:
    """Undo every fault a test may have left: nftables, pause, stopped members."""
    for m in cluster.members:
        cluster.unblock_replication(m)
    if cluster.cluster().get("pause"):
        cluster.pause(False)
    for m in cluster.members:
        if m.pid is None:
            cluster.start_member(m)
    cluster.wait_healthy(timeout=120)


@pytest.fixture
def healthy(patroni: PatroniCluster) -> Iterator[PatroniCluster]:
    """The module's cluster, healthy before the test and made healthy again after it."""
    restore(patroni)
    try:
        yield patroni
    finally:
        restore(patroni)


def run_check(cluster: PatroniCluster, folder: Path, *, profile: str = "medium",
              hosts: list[Member] | None = None) -> dict[str, Any]:
    """RS-PG-05's record from one product run over a site whose db hosts are ``hosts``."""
    members = hosts if hosts is not None else cluster.members
    first = members[0].ipv4
    (folder / ".env").write_text(f"DB_WRITER_HOST={first}\nDB_WRITER_PORT=5432\n"
                                 "DB_WRITER_USERNAME=rs_writer\n")
    lines = ["name: lab-patroni", f"profile: {profile}", "phase: pre", "env_files: [.env]",
             "hosts:", *(f"  pg-{m.name}: {{address: {m.ipv4}, roles: [db], ssh: false}}"
                         for m in members)]
    (folder / "site.yaml").write_text("\n".join(lines) + "\n")
    run = run_preflight(folder / "site.yaml", "-k", "RS-PG-05", cwd=folder)
    text = (folder / "rs-preflight-report" / "results.json").read_text()
    for secret in SECRETS:
        assert secret not in text and secret not in run.output
    return run["RS-PG-05"]


def assert_failed(record: dict[str, Any], *words: str) -> None:
    assert record["outcome"] == "failed", record
    for word in words:
        assert word in record["message"], record
    assert record["severity"] == "warning" and record["expected"] and record["found"], record


def test_healthy_cluster_passes(healthy: PatroniCluster, tmp_path: Path) -> None:
    record = run_check(healthy, tmp_path)
    assert record["outcome"] == "passed", record
    leader = healthy.leader()
    assert "3 member(s)" in record["found"], record
    assert f"{leader.name}: leader/running" in record["found"], record
    assert record["found"].count("replica/streaming") == 2, record


def test_small_profile_skips(healthy: PatroniCluster, tmp_path: Path) -> None:
    record = run_check(healthy, tmp_path, profile="small")
    assert record["outcome"] == "skipped", record


def test_replica_not_streaming_fails(healthy: PatroniCluster, tmp_path: Path) -> None:
    """Postgres runs in recovery but cannot reach the leader: Patroni says ``running``."""
    leader = healthy.leader()
    victim = healthy.replicas()[0]
    healthy.block_replication(victim, leader)
    healthy.wait_for(f"{victim.name} running without streaming", lambda doc: any(
        x["name"] == victim.name and x["state"] == "running" for x in doc["members"]))
    record = run_check(healthy, tmp_path)
    assert_failed(record, f"not streaming: {victim.name} (running)")
    assert "member(s), at least" not in record["message"], record


def test_stopped_replica_in_paused_cluster_fails(healthy: PatroniCluster,
                                                 tmp_path: Path) -> None:
    """Maintenance mode, a replica's PostgreSQL stopped: Patroni does not restart it."""
    victim = healthy.replicas()[0]
    healthy.pause()
    healthy.stop_postgres(victim)
    healthy.wait_for(f"{victim.name} stopped", lambda doc: any(
        x["name"] == victim.name and x["state"] == "stopped" for x in doc["members"]))
    record = run_check(healthy, tmp_path)
    assert_failed(record, f"not streaming: {victim.name} (stopped)")


def test_no_leader_fails(healthy: PatroniCluster, tmp_path: Path) -> None:
    """Maintenance mode, the leader's PostgreSQL stopped: Patroni releases the leader key and,
    paused, promotes nobody; the replicas keep running without anything to stream from."""
    leader = healthy.leader()
    healthy.pause()
    healthy.stop_postgres(leader)
    healthy.wait_for("without a leader", lambda doc: not any(
        x["role"] == "leader" for x in doc["members"]) and any(
        x["name"] == leader.name and x["state"] == "stopped" for x in doc["members"]))
    record = run_check(healthy, tmp_path)
    assert_failed(record, "0 leader(s)", f"{leader.name} (stopped)")
    assert "3 member(s)" in record["found"], record


def test_two_members_fail_and_a_down_host_is_skipped(healthy: PatroniCluster,
                                                     tmp_path: Path) -> None:
    """A member's Patroni stopped: its key expires and two members remain. The site lists the
    stopped host first: the check asks the next one."""
    victim = healthy.replicas()[0]
    healthy.stop_member(victim)
    healthy.wait_for("down to two members", lambda doc: len(doc["members"]) == 2)
    others = [m for m in healthy.members if m is not victim]
    record = run_check(healthy, tmp_path, hosts=[victim, *others])
    assert_failed(record, "2 member(s), at least 3 needed")
    assert f"{others[0].ipv4}:8008" in record["message"], record
    assert "not streaming" not in record["message"], record


def test_no_patroni_answers_is_an_error(healthy: PatroniCluster, tmp_path: Path) -> None:
    """Every listed db host refuses 8008 (Patroni stopped on the only one listed)."""
    victim = healthy.replicas()[0]
    healthy.stop_member(victim)
    record = run_check(healthy, tmp_path, hosts=[victim])
    assert record["outcome"] == "error", record
    assert "no Patroni REST API answered" in record["message"], record
