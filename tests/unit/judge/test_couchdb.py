"""Judges of CouchDB on the VoIP database pair (seeds/001), both ways: the version, and the
replication each way between the two servers."""

from __future__ import annotations

from rs_preflight.gather.probes.couchdb import from_replicator, from_scheduler
from rs_preflight.gather.probes.records import Replication, Replications
from rs_preflight.judge.couchdb import replication, version
from rs_preflight.spec.hosts import Host

HOSTS = [Host("couch1", "fd75::901", ("db",), fqdn="couch1.db.rcsnet.ru"),
         Host("couch2", "fd75::902", ("db",), fqdn="couch2.db.rcsnet.ru")]
WHERE = "[fd75::901]:5984"


# -- version ---------------------------------------------------------------------------------
def test_couchdb_at_or_above_the_minimum_passes() -> None:
    root = {"couchdb": "Welcome", "version": "3.3.3", "git_sha": "40afbcfc7",
            "vendor": {"name": "The Apache Software Foundation"}}
    got = version(root, WHERE, "2.1")
    assert got.outcome == "passed" and got.message == f"{WHERE}: CouchDB 3.3.3"
    assert (got.expected, got.found) == (f"CouchDB >= 2.1 at {WHERE}", "CouchDB 3.3.3")
    assert version({"couchdb": "Welcome", "version": "2.1.0"}, WHERE, "2.1").outcome == "passed"


def test_an_older_couchdb_fails_with_found_and_required() -> None:
    got = version({"couchdb": "Welcome", "version": "1.6.1"}, WHERE, "2.1")
    assert got.outcome == "failed"
    assert got.message == f"{WHERE}: CouchDB 1.6.1 is older than 2.1"
    assert (got.expected, got.found) == (f"CouchDB >= 2.1 at {WHERE}", "CouchDB 1.6.1")


def test_pouchdb_server_answers_the_api_but_is_not_couchdb() -> None:
    root = {"express-pouchdb": "Welcome!", "version": "4.2.0",
            "vendor": {"name": "PouchDB authors", "version": "4.2.0"}}
    got = version(root, WHERE, "2.1")
    assert got.outcome == "failed"
    assert got.message == (f"{WHERE} answers as PouchDB Server 4.2.0 (CouchDB-compatible API), "
                           "not CouchDB >= 2.1")
    assert got.found == "PouchDB Server 4.2.0 (CouchDB-compatible API)"


def test_another_server_is_named_by_what_it_says() -> None:
    got = version({"name": "x", "vendor": {"name": "Acme DB"}}, WHERE, "2.1")
    assert got.outcome == "failed" and "answers as Acme DB (GET / says: name, vendor)" in \
        got.message
    assert version({"couchdb": "Welcome"}, WHERE, "2.1").outcome == "failed"


# -- replication -----------------------------------------------------------------------------
def rep(source: str, target: str, state: str = "running", *, continuous: bool | None = True,
        doc_id: str = "kazoo", error: str | None = None) -> Replication:
    def host(url: str) -> str | None:
        return url.split("//")[1].split(":5984")[0].strip("[]") if "://" in url else None
    return Replication(doc_id, source, target, host(source), host(target), state, continuous,
                       error)


def seen(one: list[Replication], two: list[Replication], via: str = "/_scheduler/docs"
         ) -> dict[str, Replications | str]:
    return {"couch1": Replications(WHERE, via, tuple(one)),
            "couch2": Replications("[fd75::902]:5984", via, tuple(two))}


C1, C2 = "http://couch1.db.rcsnet.ru:5984/kazoo", "http://[fd75::902]:5984/kazoo"


def test_both_ways_running_passes_push_or_pull_on_either_server() -> None:
    # couch1 pushes to couch2; couch2 pulls from couch1's … no: couch2 pushes back as well
    got = replication(HOSTS, seen([rep(C1, C2)], [rep(C2, C1, doc_id="back")]))
    assert got.outcome == "passed", got.message
    assert got.found == "couch1 → couch2: kazoo running; couch2 → couch1: back running"
    # both defined on couch1: a push and a pull (a local database name is the holder's)
    pull = rep(C2, "kazoo", "triggered", doc_id="pull")
    assert replication(HOSTS, seen([rep("kazoo", C2, "triggered"), pull], [],
                                   "_replicator")).outcome == "passed"


def test_a_missing_direction_is_named() -> None:
    got = replication(HOSTS, seen([rep(C1, C2)], []))
    assert got.outcome == "failed"
    assert got.message == "CouchDB replication missing: couch2 → couch1 (no replication)"
    assert got.found == "couch1 → couch2: kazoo running; couch2 → couch1: none running"


def test_a_one_shot_or_failing_replication_does_not_count_and_says_why() -> None:
    once = rep(C2, C1, "completed", continuous=False, doc_id="once")
    got = replication(HOSTS, seen([rep(C1, C2)], [once]))
    assert got.outcome == "failed"
    assert "couch2 → couch1 (once on couch2 (http://[fd75::902]:5984/kazoo → " \
        "http://couch1.db.rcsnet.ru:5984/kazoo): completed, one-shot)" in got.message
    crash = rep(C2, C1, "crashing", doc_id="back", error="db_not_found: could not open kazoo")
    got = replication(HOSTS, seen([rep(C1, C2)], [crash]))
    assert got.outcome == "failed"
    assert got.message.startswith("CouchDB replication missing: couch2 → couch1 (back on couch2")
    assert got.message.endswith("failing: back on couch2 (http://[fd75::902]:5984/kazoo → "
                                "http://couch1.db.rcsnet.ru:5984/kazoo): crashing: "
                                "db_not_found: could not open kazoo")


def test_a_failing_replication_elsewhere_fails_even_when_both_ways_run() -> None:
    dead = rep(C1, "http://192.0.2.99:5984/kazoo", "error", doc_id="to-dead",
               error="connect ECONNREFUSED 192.0.2.99:5984")
    got = replication(HOSTS, seen([rep(C1, C2), dead], [rep(C2, C1)], "_replicator"))
    assert got.outcome == "failed"
    assert got.message == ("CouchDB replication failing: to-dead on couch1 ("
                           "http://couch1.db.rcsnet.ru:5984/kazoo → http://192.0.2.99:5984/kazoo"
                           "): error: connect ECONNREFUSED 192.0.2.99:5984")


def test_a_server_that_cannot_be_read_is_an_error_for_it() -> None:
    got = replication(HOSTS, {"couch1": Replications(WHERE, "_replicator", ()),
                              "couch2": "GET /_scheduler/docs at [fd75::902]:5984: refused"})
    assert got.outcome == "error"
    assert got.message == ("cannot read the replications of couch2: GET /_scheduler/docs at "
                           "[fd75::902]:5984: refused")
    assert replication(HOSTS[:1], {}).outcome == "skipped"


# -- what the servers answer, read (documented shapes; PouchDB Server's as measured) ---------
CANARY = "Qcanary-Pw-8x1"


def test_scheduler_docs_are_read_and_their_credentials_never_kept() -> None:
    doc = {"docs": [
        {"database": "_replicator", "doc_id": "kazoo-push", "id": "e327d7+continuous",
         "node": "couchdb@couch1", "source": "http://couch1.db.rcsnet.ru:5984/kazoo/",
         "target": f"http://adm:{CANARY}@[fd75::902]:5984/kazoo/", "state": "running",
         "info": {"revisions_checked": 3}, "error_count": 0},
        {"database": "_replicator", "doc_id": "dead", "id": None, "state": "failed",
         "source": {"url": "http://[fd75::902]:5984/x",
                    "headers": {"Authorization": "Basic YWRtOlFjYW5hcnktUHctOHgx"}},
         "target": "http://couch1:5984/x",
         "info": {"error": f"unauthorized: http://adm:{CANARY}@[fd75::902]:5984/x "
                           f"(password {CANARY})"}},
        {"doc_id": "old", "id": "abc", "state": "crashing", "source": "a", "target": "b",
         "info": "db_not_found: could not open a"}]}
    got = from_scheduler(doc)
    assert [(r.doc_id, r.state, r.continuous) for r in got] == [
        ("kazoo-push", "running", True), ("dead", "failed", None), ("old", "crashing", False)]
    assert got[0].target == "http://[fd75::902]:5984/kazoo/"
    assert (got[0].source_host, got[0].target_host) == ("couch1.db.rcsnet.ru", "fd75::902")
    assert got[1].error == "unauthorized: http://[fd75::902]:5984/x (password <redacted>)"
    assert got[2].error == "db_not_found: could not open a"
    assert CANARY not in repr(got) and "YWRtOlFj" not in repr(got)


def test_replicator_documents_are_read_as_pouchdb_server_and_couchdb_1_keep_them() -> None:
    doc = {"total_rows": 3, "offset": 0, "rows": [
        {"id": "_design/_replicator", "doc": {"_id": "_design/_replicator", "language": "js"}},
        {"id": "kazoo-to-b", "doc": {
            "_id": "kazoo-to-b", "_rev": "2-x", "source": "http://10.0.0.1:5984/kazoo",
            "target": f"http://u:{CANARY}@10.0.0.2:5984/kazoo", "continuous": True,
            "_replication_id": "uuid", "_replication_state": "triggered"}},
        {"id": "dead", "doc": {
            "_id": "dead", "source": "kazoo", "target": f"http://u:{CANARY}@10.0.0.9:5985/k",
            "continuous": True, "retry": False, "_replication_state": "error",
            "_replication_state_reason": f"request to http://u:{CANARY}@10.0.0.9:5985/k/ "
                                         "failed, reason: connect ECONNREFUSED 10.0.0.9:5985"}}]}
    got = from_replicator(doc)
    assert [(r.doc_id, r.state, r.continuous, r.source_host, r.target_host) for r in got] == [
        ("kazoo-to-b", "triggered", True, "10.0.0.1", "10.0.0.2"),
        ("dead", "error", True, None, "10.0.0.9")]
    assert got[1].error == ("request to http://10.0.0.9:5985/k/ failed, reason: connect "
                            "ECONNREFUSED 10.0.0.9:5985")
    assert CANARY not in repr(got)
