"""The VoIP catalogue's data kinds (seeds/001, "Базы данных") run as a user runs them against
two lab database servers, both ways: ``couchdb_version`` (VOIP-COUCH-01), ``couchdb_replication``
(VOIP-COUCH-02), ``rabbitmq_cluster`` (VOIP-RMQ-01).

Lab hosts couch1 and couch2 (namespaces with sshd: VOIP-COUCH-01 is a per-host check) carry:

- couch1: :class:`~rs_lab.couchdb_standin.CouchDBStandin` 3.3.3 on 5984 — a **stand-in** for
  CouchDB (none can be installed here), answering ``/`` and ``/_scheduler/docs`` in CouchDB's
  documented shapes in front of a real PouchDB Server on 5985 whose replications it reports;
  it wants the site's login. A second stand-in claiming CouchDB 1.6.1 on 5986 (the too-old
  variant, through a requirement composed onto the catalogue for that port).
- couch2: PouchDB Server 4.2.0 itself on 5984 (a real CouchDB-API server that is not CouchDB:
  VOIP-COUCH-01 fails there for that reason; its replications come from ``_replicator``).
- both: Debian's RabbitMQ 3.10 (real), first as two standalone nodes, then as one cluster.

Replications are real PouchDB replications (``_replicator`` documents), written with a user's
password in their URLs — a canary the site does not know, which no output may show. PouchDB
Server keeps a replication that cannot reach its target ``triggered`` while it retries, where
CouchDB reports it ``crashing`` (one written with ``"retry": false`` crashes PouchDB Server when
it gives up: measured); so the failing variant is a dead target behind the stand-in, whose
``/_scheduler/docs`` says ``crashing`` as CouchDB's would — read from plain PouchDB Server's
``_replicator``, the same replication would pass as ``triggered``: a limit of that server, not
of the check. PouchDB Server crashes when a ``_replicator`` document is deleted, so the
variants are stages that only add: one way, both ways, a dead target, a server down.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from rs_lab.couchdb import COUCH_ROOT, CouchServer
from rs_lab.couchdb_standin import CouchDBStandin, root_document, scheduler_docs
from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.preflight import Run, run_preflight
from rs_lab.rabbitmq import SERVER, RabbitNode, RabbitSpec
from rs_lab.workdir import remove, service_root
from rs_preflight.gather.probes.couchdb import from_scheduler

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or not (COUCH_ROOT / "node_modules").exists() \
        or not SERVER.exists() or shutil.which("node") is None:  # pragma: no cover
    pytest.skip("needs root, PouchDB Server (scripts/setup-couch) and rabbitmq-server "
                "(scripts/setup)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "examples" / "catalogues" / "voip.yaml"
# "Q" + random: each canary's 8-character prefix is its own (the checks look for prefixes)
SITE_PW = "Q" + secrets.token_hex(10)        # the site's CouchDB login (known to the redactor)
REP_PW = "Q" + secrets.token_hex(10)         # in the replication URLs only: nobody's setting
RABBIT = RabbitSpec(user="voip", password="Q" + secrets.token_hex(10))
OLD_PORT, NOBODY_PORT = 5986, 5999
EXTRA = f"""\
requirements:
  VOIP-COUCH-91:
    kind: couchdb_version
    params: {{port: {OLD_PORT}, min: "2.1", user_setting: COUCHDB_USER,
              password_setting: COUCHDB_PASSWORD, timeout_s: 5}}
    title: CouchDB on a second port (lab variant)
    section: test
    roles: [db]
    phases: [post]
    severity: blocker
    remediation: test
"""


def site_lines(hosts: list[LabHost], host_lab: HostLab, address: str = "ipv4") -> list[str]:
    return ["name: voip-lab", "profile: standard", "phase: post", "ssh:", "  user: root",
            f"  identity_file: {host_lab.identity_file}",
            f"  known_hosts: {host_lab.known_hosts}", "  connect_timeout: 3",
            "hosts:", *(f"  {h.name}: {{address: \"{getattr(h, address)}\", roles: [db], "
                        f"fqdn: {h.name}.db.voip.lab}}" for h in hosts),
            "settings:", "  COUCHDB_USER: admin", "  COUCHDB_PASSWORD_env: LAB_COUCH_PW",
            f"  RABBITMQ_USER: {RABBIT.user}", "  RABBITMQ_PASSWORD_env: LAB_RABBIT_PW"]


def run(folder: Path, hosts: list[LabHost], host_lab: HostLab, select: str, *,
        couch_pw: str | None = SITE_PW, address: str = "ipv4") -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site.yaml").write_text("\n".join(site_lines(hosts, host_lab, address)) + "\n")
    (folder / "extra.yaml").write_text(EXTRA)
    os.environ["LAB_RABBIT_PW"] = RABBIT.password
    if couch_pw is None:
        os.environ.pop("LAB_COUCH_PW", None)
        text = (folder / "site.yaml").read_text().replace(
            "  COUCHDB_PASSWORD_env: LAB_COUCH_PW\n", "")
        (folder / "site.yaml").write_text(text)
    else:
        os.environ["LAB_COUCH_PW"] = couch_pw
    return run_preflight(folder / "site.yaml", "--rs-catalogue", str(CATALOGUE),
                         "--rs-catalogue", str(folder / "extra.yaml"), "-k", select, cwd=folder)


def records(got: Run) -> dict[tuple[str, str | None], dict[str, Any]]:
    return got.records


def assert_no_canary(got: Run) -> None:
    """Neither password (nor its 8-character prefix) in the terminal or any report."""
    report = got.folder / "rs-preflight-report"
    texts = {"terminal": got.output, **{p.name: p.read_text() for p in report.iterdir()}}
    for name, text in texts.items():
        for canary in (SITE_PW, REP_PW, RABBIT.password):
            assert canary[:8] not in text, (name, canary)


def test_the_standin_translates_real_replicator_documents_as_couchdb_shows_them() -> None:
    """What the stand-in makes of PouchDB's documents is CouchDB's shape, read back by the
    product's own parser (no lab needed)."""
    rows = {"rows": [
        {"id": "_design/_replicator", "doc": {"_id": "_design/_replicator"}},
        {"id": "a", "doc": {"_id": "a", "source": "kazoo", "continuous": True,
                            "target": f"http://rep:{REP_PW}@10.0.0.2:5984/kazoo",
                            "_replication_id": "u1", "_replication_state": "triggered"}},
        {"id": "b", "doc": {"_id": "b", "source": "kazoo", "target": "http://10.0.0.9:1/k",
                            "_replication_id": "u2", "_replication_state": "error",
                            "_replication_state_reason": "connect ECONNREFUSED"}}]}
    doc = scheduler_docs(rows, 5984)
    assert doc["total_rows"] == 2 and REP_PW not in str(doc)
    assert doc["docs"][0]["target"] == "http://rep:*****@10.0.0.2:5984/kazoo/"
    assert doc["docs"][0]["source"] == "http://127.0.0.1:5984/kazoo/"
    got = from_scheduler(doc)
    assert [(r.doc_id, r.state, r.continuous, r.error) for r in got] == [
        ("a", "running", True, None), ("b", "crashing", False, "connect ECONNREFUSED")]
    assert root_document("1.6.1", "u")["vendor"] == {"version": "1.6.1",
                                                     "name": "The Apache Software Foundation"}
    assert root_document("3.3.3", "u")["couchdb"] == "Welcome"


# -- the servers -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def db_hosts(host_lab: HostLab, lab_lease: Lease) -> list[LabHost]:
    return host_lab.add_many([HostSpec(name, lab_lease.take(name), os_release("centos", "7"))
                              for name in ("couch1", "couch2")])


@pytest.fixture(scope="module")
def couches(db_hosts: list[LabHost]) -> Iterator[dict[str, Any]]:
    work = service_root("voip-couch")
    one, two = db_hosts
    front = CouchDBStandin(one.ns, work / "couch1", login=("admin", SITE_PW))
    old = CouchDBStandin(one.ns, work / "couch1-old", version="1.6.1", port=OLD_PORT,
                         backend_port=5987)
    plain = CouchServer(two.ns, work / "couch2")
    try:
        for service in (front, old, plain):
            service.start()
        for server in (front.backend, plain):
            server.put("/kazoo")
            server.put("/_users/org.couchdb.user:rep", {  # the replications' own user
                "_id": "org.couchdb.user:rep", "name": "rep", "password": REP_PW,
                "roles": [], "type": "user"})
        # couch2's server admin is the site's login, as a CouchDB's would be (PouchDB Server
        # answers a logged-in non-admin's _replicator read with 400 "…getSecurity")
        made = requests.put(f"{plain.url}/_config/admins/admin", json=SITE_PW, timeout=10)
        assert made.status_code == 200, made.text
        yield {"couch1": front, "couch2": plain}
    finally:
        for service in (plain, old, front):
            service.stop()
        remove(work)


def url(server: CouchServer, db: str = "kazoo", port: int | None = None) -> str:
    return f"http://rep:{REP_PW}@{server.ipv4}:{port or server.port}/{db}"


def as_admin(server: CouchServer, path: str, body: object) -> None:
    """PUT as couch2's server admin (its ``_replicator`` is the admin's once one exists)."""
    resp = requests.put(f"{server.url}{path}", json=body, auth=("admin", SITE_PW), timeout=10)
    assert resp.status_code in (200, 201), resp.text


def state(server: CouchServer, doc: str) -> str:
    """A ``_replicator`` document's ``_replication_state``, read as couch2's admin."""
    resp = requests.get(f"{server.url}/_replicator/{doc}", auth=("admin", SITE_PW), timeout=10)
    return str(resp.json().get("_replication_state"))


def replicated(a: CouchServer, b: CouchServer, doc: str) -> bool:
    a.put(f"/kazoo/{doc}", {"written": "on a"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # bounded: replication is continuous, not instant
        try:
            if b.get(f"/kazoo/{doc}")["written"] == "on a":
                return True
        except requests.HTTPError:
            pass
        time.sleep(0.2)
    return False


# -- couchdb_version and couchdb_replication, stage by stage -----------------------------------
def test_couchdb_version_and_replication_both_ways(
        db_hosts: list[LabHost], host_lab: HostLab, couches: dict[str, Any],
        tmp_path: Path) -> None:
    one, two = couches["couch1"].backend, couches["couch2"]
    # stage 1: couch1 pushes to couch2; nothing comes back
    one.put("/_replicator/to-couch2", {"source": "kazoo", "target": url(two),
                                       "continuous": True})
    assert replicated(one, two, "from-couch1")
    # …but once, one-shot: a replication that does not count, shown with its URL (the
    # password in it is the canary no output may show)
    as_admin(two, "/_replicator/once", {"source": "kazoo", "target": url(one)})
    deadline = time.monotonic() + 30
    while state(two, "once") != "completed":
        assert time.monotonic() < deadline, state(two, "once")
        time.sleep(0.2)
    first = run(tmp_path / "one-way", db_hosts, host_lab, "VOIP-COUCH")
    assert_no_canary(first)
    got = records(first)
    version1, version2 = got[("VOIP-COUCH-01", "couch1")], got[("VOIP-COUCH-01", "couch2")]
    assert version1["outcome"] == "passed", version1
    assert version1["found"] == "CouchDB 3.3.3"
    assert version2["outcome"] == "failed"
    assert version2["message"] == (f"{two.ipv4}:5984 answers as PouchDB Server 4.2.0 "
                                   "(CouchDB-compatible API), not CouchDB >= 2.1")
    old, nobody = got[("VOIP-COUCH-91", "couch1")], got[("VOIP-COUCH-91", "couch2")]
    assert old["outcome"] == "failed" and old["found"] == "CouchDB 1.6.1"
    assert old["message"] == f"{db_hosts[0].ipv4}:{OLD_PORT}: CouchDB 1.6.1 is older than 2.1"
    assert nobody["outcome"] == "error"
    assert nobody["message"] == (f"CouchDB did not answer: GET / at {two.ipv4}:{OLD_PORT}: "
                                 "Connection refused")
    rep = got[("VOIP-COUCH-02", None)]
    assert rep["outcome"] == "failed", rep
    assert rep["message"] == ("CouchDB replication missing: couch2 → couch1 (once on couch2 "
                              f"(kazoo → http://{one.ipv4}:5985/kazoo): completed, one-shot)")
    assert rep["found"].startswith("couch1 → couch2: to-couch2 running; ")

    # stage 2: couch2 pushes back — to the PouchDB Server behind couch1's stand-in
    as_admin(two, "/_replicator/to-couch1", {"source": "kazoo", "target": url(one),
                                            "continuous": True})
    assert replicated(two, one, "from-couch2")
    done = run(tmp_path / "both", db_hosts, host_lab, "VOIP-COUCH-02")
    rep = done["VOIP-COUCH-02"]
    assert rep["outcome"] == "passed", rep
    assert rep["found"] == "couch1 → couch2: to-couch2 running; couch2 → couch1: to-couch1 " \
        "triggered"
    assert rep["message"].endswith("read from /_scheduler/docs, _replicator)")
    assert_no_canary(done)

    # stage 3: a replication whose target is dead (a port of couch2 nobody listens on): PouchDB
    # retries it, CouchDB's scheduler (the stand-in) says crashing, and why
    one.put("/_replicator/to-nowhere", {"source": "kazoo", "continuous": True,
                                        "target": url(two, port=NOBODY_PORT)})
    dead = run(tmp_path / "dead", db_hosts, host_lab, "VOIP-COUCH-02")
    rep = dead["VOIP-COUCH-02"]
    assert rep["outcome"] == "failed", rep
    nowhere = f"http://{two.ipv4}:{NOBODY_PORT}/kazoo/"
    assert rep["message"] == (
        f"CouchDB replication failing: to-nowhere on couch1 (http://127.0.0.1:5984/kazoo/ → "
        f"{nowhere}): crashing: connection_refused: could not open {nowhere}")
    assert_no_canary(dead)

    # without the site's password couch1's stand-in refuses, naming the settings
    refused = run(tmp_path / "no-login", db_hosts, host_lab, "VOIP-COUCH-01", couch_pw=None)
    r1 = refused.records[("VOIP-COUCH-01", "couch1")]
    assert r1["outcome"] == "error"
    assert r1["message"] == (f"GET / at {db_hosts[0].ipv4}:5984 answered HTTP 401 (the login "
                             "was refused): the login comes from the site's settings "
                             "COUCHDB_USER (set), COUCHDB_PASSWORD (not set)")

    # stage 4: couch2's server down — an error for it, never a verdict on what was not read
    two.stop()
    down = run(tmp_path / "down", db_hosts, host_lab, "VOIP-COUCH")
    rep = down["VOIP-COUCH-02"]
    assert rep["outcome"] == "error"
    # the run asked couch2 once: its first refusal (GET /, VOIP-COUCH-01's) answers for both
    assert rep["message"] == ("cannot read the replications of couch2: GET / at "
                              f"{two.ipv4}:5984: Connection refused")
    assert down.records[("VOIP-COUCH-01", "couch2")]["outcome"] == "error"
    assert down.records[("VOIP-COUCH-01", "couch1")]["outcome"] == "passed"
    assert_no_canary(down)


def test_couchdb_version_over_ipv6(db_hosts: list[LabHost], host_lab: HostLab,
                                   couches: dict[str, Any], tmp_path: Path) -> None:
    """The VoIP complex is IPv6 only: the host's IPv6 address, in brackets."""
    got = run(tmp_path, db_hosts[:1], host_lab, "VOIP-COUCH-01", address="ipv6")
    rec = got["VOIP-COUCH-01"]
    assert rec["outcome"] == "passed", rec
    assert rec["message"] == f"[{db_hosts[0].ipv6}]:5984: CouchDB 3.3.3"


# -- rabbitmq_cluster ----------------------------------------------------------------------------
def rabbit_nodes(hosts: list[LabHost], work: Path, *, clustered: bool) -> list[RabbitNode]:
    """A node on each host: one cluster (node k knows nodes 1…k and joins them), or each on
    its own (a cookie of its own, no peers); returned once every node sees what it should."""
    names = [f"rabbit@{h.ipv4}" for h in hosts]
    nodes = [RabbitNode(h.ns, work / h.name,
                        RABBIT if clustered else RabbitSpec(RABBIT.user, RABBIT.password),
                        peers=names[:i + 1] if clustered else ())
             for i, h in enumerate(hosts)]
    for node in nodes:
        node.start()
    deadline = time.monotonic() + 120
    while True:
        views: list[list[str]] = []
        try:
            views = [n.running_nodes() for n in nodes]
        except (requests.RequestException, ValueError) as exc:
            views = [[str(exc)]]
        wanted = [sorted(names) if clustered else [n.node_name] for n in nodes]
        if views == wanted:
            return nodes
        assert time.monotonic() < deadline, views
        time.sleep(0.5)


def test_rabbitmq_cluster_both_ways(db_hosts: list[LabHost], host_lab: HostLab,
                                    tmp_path: Path) -> None:
    work = service_root("voip-rabbit")
    nodes: list[RabbitNode] = []
    try:
        nodes = rabbit_nodes(db_hosts, work / "apart", clustered=False)
        apart = run(tmp_path / "apart", db_hosts, host_lab, "VOIP-RMQ")["VOIP-RMQ-01"]
        assert apart["outcome"] == "failed", apart
        one, two = db_hosts
        # the default cluster_name is rabbit@<the machine's host name> for both (the nodes share
        # its UTS namespace): the node lists tell the two clusters apart
        name = nodes[0].overview()["cluster_name"]
        assert apart["message"] == (
            f"RabbitMQ not one cluster: couch2 not in the cluster couch1 belongs to "
            f"(cluster_name {name}; nodes rabbit@{one.ipv4}); couch1 not in the cluster couch2 "
            f"belongs to (cluster_name {name}; nodes rabbit@{two.ipv4})")
        for node in nodes:
            node.stop()

        nodes = rabbit_nodes(db_hosts, work / "cluster", clustered=True)
        healthy = run(tmp_path / "cluster", db_hosts, host_lab, "VOIP-RMQ")
        rec = healthy["VOIP-RMQ-01"]
        assert rec["outcome"] == "passed", rec
        name = nodes[0].overview()["cluster_name"]
        assert rec["found"] == (f"cluster {name}: rabbit@{one.ipv4} running, "
                                f"rabbit@{two.ipv4} running")
        assert_no_canary(healthy)

        stop = nodes[1].ctl("stop_app")
        assert stop.returncode == 0, stop.stderr
        stopped = run(tmp_path / "stopped", db_hosts, host_lab, "VOIP-RMQ")["VOIP-RMQ-01"]
        assert stopped["outcome"] == "failed", stopped
        assert stopped["message"].startswith(
            f"RabbitMQ node rabbit@{two.ipv4} (couch2) is not running, as couch1's management "
            "API says (no answer from couch2: RabbitMQ management API at "), stopped["message"]

        assert nodes[0].ctl("stop_app").returncode == 0
        silent = run(tmp_path / "silent", db_hosts, host_lab, "VOIP-RMQ")["VOIP-RMQ-01"]
        assert silent["outcome"] == "error"
        assert silent["message"].startswith("no RabbitMQ management API answered (couch1: ")
    finally:
        for node in nodes:
            node.stop()
        remove(work)
