"""The VoIP catalogue (seeds/001) run as a user runs it against a lab replica of the complex,
both ways.

The replica (``rs_lab.voip``) is the eight servers of ``examples/voip/site-fixed.yaml`` — two
of each type, as VOIP-SIZE-01 wants — as lab hosts reached over IPv6, each with the
``/etc/os-release`` of CentOS Linux 7 x86_64, the document's system: VOIP-OS-01 passes, and
VOIP-OS-02 fails on every server **for the end of life**, which is the truth for CentOS 7
(ended 2024-06-30; a warning, it does not fail the gate). The site is site-fixed.yaml's
description with the replica's addresses and the lab's names (``rs_lab.voip.write_site``).

What runs where, real or stand-in, is ``rs_lab.voip``'s docstring: the CouchDB stand-in
(CouchDB 3.3.3's answers, with a login) in front of real PouchDB Servers replicating both ways,
RabbitMQ 3.10 clustered on the two db hosts, Kazoo's Erlang nodes and FreeSWITCH's mod_kazoo
endpoint as real Erlang nodes running no Kazoo or FreeSWITCH code, nginx, BIND with AAAA and
PTR records, floating addresses on one host of each pair.

One replica for the module; one run of the healthy site, one run of the broken one — every
break made at once, each on a server of its own and for one kind (but the stopped RabbitMQ
node, whose AMQP port closes too: VOIP-NET-01 says so), then undone: CentOS 8 on nginx1, fs2's
name with an A record and no AAAA, a site with one application server, the web pair's floating
address on both servers, the pbx name at fs1's own address, couch2's CouchDB claiming 1.6.1,
couch2 sending no replication, couch2's RabbitMQ application stopped, stopped processes
(ecallmgr, freeswitch, nginx), a blocked flow (8031 dropped on fs2).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dns.reversename
import pytest
import yaml

from rs_lab.couchdb import COUCH_ROOT
from rs_lab.hosts import HostLab
from rs_lab.indices import Lease
from rs_lab.preflight import Run, run_preflight
from rs_lab.voip import (
    CENTOS7,
    CENTOS8,
    COUCH_LOGIN,
    COUCHDB_VERSION,
    RABBIT_PASSWORD,
    SHAPE,
    VoipReplica,
    lab_name,
)
from rs_preflight.spec.kinds import load_kinds

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("nginx") is None or shutil.which("erl") is None \
        or shutil.which("named") is None \
        or not (COUCH_ROOT / "node_modules" / "pouchdb-server").exists() \
        or not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():  # pragma: no cover
    pytest.skip("needs root, nginx, erl, named, rabbitmq-server and PouchDB Server "
                "(scripts/setup, scripts/setup-couch)", allow_module_level=True)

CATALOGUE = Path(__file__).resolve().parents[2] / "examples" / "catalogues" / "voip.yaml"
RAW: dict[str, Any] = yaml.safe_load(CATALOGUE.read_text())["requirements"]
KINDS = load_kinds()
SERVERS = set(SHAPE["hosts"])
EOL7 = re.compile(r"CentOS Linux 7 reached its end of life on 2024-06-30 "
                  r"\(\d+ days ago\): no security updates")
ROLES = {name: body["roles"][0] for name, body in SHAPE["hosts"].items()}


@pytest.fixture(scope="module")
def replica(host_lab: HostLab, lab_lease: Lease,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoipReplica]:
    replica = VoipReplica.up(host_lab, lab_lease, tmp_path_factory.mktemp("voip"))
    try:
        yield replica
    finally:
        replica.down()


def run(replica: VoipReplica, folder: Path, *, without: tuple[str, ...] = ()) -> Run:
    site = replica.write_site(folder, without=without)
    return run_preflight(site, "--rs-catalogue", str(CATALOGUE), cwd=folder)


def not_passed(got: Run) -> dict[str, str]:
    return {f"{rid}@{host}": r["message"] for (rid, host), r in got.records.items()
            if r["outcome"] != "passed"}


def hosts_of(got: Run, rid: str) -> set[str | None]:
    return {host for (r, host) in got.records if r == rid}


def test_the_lab_zone_answers_aaaa_and_ptr_for_every_server(replica: VoipReplica) -> None:
    """What VOIP-DNS-01 asks, asked of the lab's BIND directly (dnspython, never the
    machine's resolver)."""
    resolver = replica.dns.resolver()
    for name, host in replica.hosts.items():
        fqdn = replica.fqdn(name)
        assert [r.address for r in resolver.resolve(fqdn, "AAAA")] == [host.ipv6]
        ptr = resolver.resolve(dns.reversename.from_address(host.ipv6), "PTR")
        assert [r.target.to_text() for r in ptr] == [f"{fqdn}."]
    floating = {lab_name(b["name"]): replica.floating[label]
                for label, b in SHAPE["floating_addresses"].items()}
    for name, address in floating.items():
        rtype = "AAAA" if ":" in address else "A"
        assert [r.address for r in resolver.resolve(name, rtype)] == [address]


def test_the_healthy_replica_passes_every_requirement_that_applies(
        replica: VoipReplica, tmp_path: Path) -> None:
    assert not any(KINDS[body["kind"]].planned for body in RAW.values())  # every kind ships
    got = run(replica, tmp_path)
    assert {rid for rid, _ in got.records} == set(RAW), got.output[-3000:]
    assert got.doc["not_selected"] == [] and got.doc["complete"] is True
    for rid in RAW:  # each on the servers of its roles, or once for the site
        roles = set(RAW[rid]["roles"])
        want = {None} if roles == {"site"} else {n for n in SERVERS if ROLES[n] in roles}
        assert hosts_of(got, rid) == want, rid
    # CentOS 7 is past its end of life on every server: the truth, a warning
    bad = not_passed(got)
    assert set(bad) == {f"VOIP-OS-02@{n}" for n in SERVERS}, bad
    assert all(EOL7.fullmatch(message) for message in bad.values()), bad
    assert {r["severity"] for (rid, _), r in got.records.items() if rid == "VOIP-OS-02"} == \
        {"warning"}
    assert got.doc["gate"] == "passed" and got.code == 0
    rec = got.records
    assert rec[("VOIP-OS-01", "couch1")]["message"] == \
        "CentOS Linux 7 (Core) is supported (x86_64)"
    couch2, fs1 = replica.hosts["couch2"], replica.hosts["fs1"]
    assert rec[("VOIP-DNS-01", "couch2")]["message"] == \
        f"couch2.db.rcsnet.lab → {couch2.ipv6} → couch2.db.rcsnet.lab"
    assert rec[("VOIP-DNS-01", "fs1")]["message"] == \
        f"fs1.voip.rcsnet.lab → {fs1.ipv6} → fs1.voip.rcsnet.lab"
    assert "nginx1 holds" in rec[("VOIP-FLOAT-01", None)]["message"]
    assert rec[("VOIP-COUCH-01", "couch1")]["message"].endswith(": CouchDB 3.3.3")
    assert "replicating both ways (couch1 → couch2: " in rec[("VOIP-COUCH-02", None)]["message"]
    assert "rabbit@couch1 running, rabbit@couch2 running" in rec[("VOIP-RMQ-01", None)]["found"]
    # from each app server: 5984 and 5672 on both db servers, 8031 and 4369 on both sip ones
    assert rec[("VOIP-NET-01", "kazoo2")]["message"].startswith("8 flows open: ")
    assert RABBIT_PASSWORD not in got.output + json.dumps(got.doc)
    assert COUCH_LOGIN[1] not in got.output + json.dumps(got.doc)


def test_each_broken_variant_fails_for_its_reason(replica: VoipReplica, tmp_path: Path) -> None:
    """Every break at once, each on a server and requirement of its own; undone after the
    run."""
    fs1 = replica.hosts["fs1"]
    with ExitStack() as undo:
        replica.set_os("nginx1", CENTOS8)
        undo.callback(replica.set_os, "nginx1", CENTOS7)
        for key in ("kazoo1:ecallmgr", "fs1:freeswitch", "nginx2:nginx"):
            replica.stop(key)
            undo.callback(replica.start, key)
        replica.block("fs2", 8031)
        undo.callback(replica.unblock, "fs2")
        replica.dns.reload(replica.zone(no_aaaa=["fs2"], floating_at={"pbx": fs1.ipv4}))
        undo.callback(lambda: replica.dns.reload(replica.zone()))
        replica.hold("self", "nginx2")  # both web servers hold it: split brain
        undo.callback(replica.release, "self", "nginx2")
        replica.set_couchdb_version("couch2", "1.6.1")
        undo.callback(replica.set_couchdb_version, "couch2", COUCHDB_VERSION)
        replica.stop_rabbit("couch2")
        undo.callback(replica.start_rabbit, "couch2")
        replica.forget_replications("couch2")  # couch1 → couch2 only
        undo.callback(replica.replicate_from, "couch2")
        got = run(replica, tmp_path, without=("kazoo2",))
    bad = not_passed(got)
    assert set(bad) - {k for k in bad if k.startswith("VOIP-OS-02@")} == {
        "VOIP-OS-01@nginx1", "VOIP-DNS-01@fs2", "VOIP-SIZE-01@None", "VOIP-FLOAT-01@None",
        "VOIP-FLOAT-02@None", "VOIP-COUCH-01@couch2", "VOIP-COUCH-02@None",
        "VOIP-RMQ-01@None", "VOIP-PROC-02@kazoo1", "VOIP-PROC-03@fs1", "VOIP-PROC-04@nginx2",
        "VOIP-NET-01@kazoo1"}, bad
    rec = got.records
    assert all(rec[(rid, host)]["outcome"] == "failed" for rid, host in rec
               if f"{rid}@{host}" in bad), bad
    assert rec[("VOIP-OS-01", "nginx1")]["message"] == \
        "CentOS Linux 8 (Core) is not a supported version of CentOS Linux"
    assert rec[("VOIP-OS-02", "nginx1")]["message"].startswith(
        "CentOS Linux 8 reached its end of life on 2021-12-31 (")
    assert rec[("VOIP-DNS-01", "fs2")]["message"] == "fs2.voip.rcsnet.lab has no AAAA record"
    assert rec[("VOIP-SIZE-01", None)]["message"] == \
        "fewer hosts than the standard profile: app: 1 of 2"
    web = replica.floating["self"]
    assert rec[("VOIP-FLOAT-01", None)]["message"] == \
        f"floating addresses: self {web}: split brain: both nginx1 and nginx2 hold {web}"
    assert rec[("VOIP-FLOAT-02", None)]["message"] == \
        "floating addresses' names: pbx: pbx.rcsnet.lab resolves to " \
        f"{fs1.ipv4}, not to {replica.floating['pbx']}"
    assert rec[("VOIP-COUCH-01", "couch2")]["message"].endswith(
        "CouchDB 1.6.1 is older than 2.1")
    couch = rec[("VOIP-COUCH-02", None)]["message"]
    assert couch.startswith("CouchDB replication missing: couch2 → couch1 (no replication)"), \
        couch
    assert "node rabbit@couch2 (couch2) is not running, as couch1's management API says" in \
        rec[("VOIP-RMQ-01", None)]["message"]
    assert rec[("VOIP-PROC-02", "kazoo1")]["message"].endswith("not running: ecallmgr")
    assert rec[("VOIP-PROC-03", "fs1")]["message"].endswith("not running: freeswitch")
    assert rec[("VOIP-PROC-04", "nginx2")]["message"].endswith("not running: nginx")
    # the blocked flow, and the stopped RabbitMQ node's, which no longer listens
    couch2, fs2 = replica.hosts["couch2"].ipv6, replica.hosts["fs2"].ipv6
    net = rec[("VOIP-NET-01", "kazoo1")]["message"]
    assert re.fullmatch(re.escape(
        f"2 of 8 flows blocked: whapps/ecallmgr → RabbitMQ kazoo1 → [{couch2}]:5672 (role db): "
        f"refused in MS ms: {couch2}: line 1: /dev/tcp/{couch2}/5672: Connection refused; "
        f"ecallmgr → FreeSWITCH (mod_kazoo) kazoo1 → [{fs2}]:8031 (role sip): "
        "filtered (no answer within 3 s)").replace("MS", r"\d+"), net), net
    assert got.code == 1
    assert COUCH_LOGIN[1] not in got.output + json.dumps(got.doc)
