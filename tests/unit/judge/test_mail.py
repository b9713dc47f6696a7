"""RS-MAIL/PG/SEARCH judges (pure) and the probes' pure helpers: expected vs found."""

from __future__ import annotations

import pytest

from rs_preflight.gather.probes import ProbeError
from rs_preflight.gather.probes import pg as pg_probe
from rs_preflight.gather.probes import search as search_probe
from rs_preflight.judge import mail, pg, search
from rs_preflight.spec.results import ERROR, FAILED, PASSED, SKIPPED, Verdict

MAILBOXES = ("ITRP_ERRORS_MAILBOX", "ITRP_INBOUND_MAILBOX")


# -- mail ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "ok"), [
    ("rs@example.com", True), ("rs+x@mail.example.com", True), ("first.last@ex-ample.org", True),
    ("rs", False), ("rs@localhost", False), ("a@@b.com", False), (".rs@example.com", False),
    ("rs..x@example.com", False), ("rs@-example.com", False), ("r s@example.com", False),
    ("x" * 65 + "@example.com", False),
])
def test_address_syntax(value: str, ok: bool) -> None:
    assert (mail.address_problem(value) is None) is ok


def test_mailboxes_name_every_bad_variable() -> None:
    v = mail.mailboxes({"ITRP_ERRORS_MAILBOX": "errors@rs.example.com"}, MAILBOXES)
    assert v.outcome == FAILED and "ITRP_INBOUND_MAILBOX: not set" in v.message
    v = mail.mailboxes({"ITRP_ERRORS_MAILBOX": "nope", "ITRP_INBOUND_MAILBOX": "rs@x.org"},
                       MAILBOXES)
    assert v.outcome == FAILED and "ITRP_ERRORS_MAILBOX='nope'" in v.message
    v = mail.mailboxes({k: "rs@x.org" for k in MAILBOXES}, MAILBOXES)
    assert v.outcome == PASSED


@pytest.mark.parametrize(("port", "ssl", "outcome"), [
    ("993", "true", PASSED), ("143", "false", PASSED), ("993", None, PASSED),
    ("993", "false", FAILED), ("143", "true", FAILED), ("143", None, FAILED),
    ("1993", "true", PASSED), (None, "true", SKIPPED),
])
def test_clacks_port_and_tls_agree(port: str | None, ssl: str | None, outcome: str) -> None:
    assert mail.clacks_consistent(port, ssl).outcome == outcome


def test_imap_tls_mode_defaults_to_implicit() -> None:
    assert mail.imap_tls_mode(None) == mail.imap_tls_mode("true") == "implicit"
    assert mail.imap_tls_mode("false") == "starttls"


def test_smtp_verify_modes() -> None:
    assert mail.smtp_verify_mode(None) == (True, "peer")
    assert mail.smtp_verify_mode("none") == (False, "none")
    assert mail.smtp_verify_mode("PEER") == (True, "peer")
    assert mail.smtp_verify_mode("sometimes") is None


def test_probe_recipient_subaddressing_and_catch_all() -> None:
    assert mail.probe_recipient("rs@rs.example.com", False, "t1") == "rs+t1@rs.example.com"
    assert mail.probe_recipient("rs@mail.rs.example.com", True, "t1") == \
        "t1@mail.rs.example.com"


def test_imap_login_failed_says_where() -> None:
    v = mail.imap_login("login", "login as rs@x refused: AUTHENTICATIONFAILED", "imap:993",
                        "implicit TLS", "rs@x", "the system trust store")
    assert v.outcome == FAILED and "login failed" in v.message and v.expected and v.found
    v = mail.imap_login("tls", "certificate not accepted: Hostname mismatch", "imap:993",
                        "implicit TLS", "rs@x", "the system trust store")
    assert "implicit TLS did not work" in v.message
    assert mail.imap_login("done", None, "imap:993", "STARTTLS", "rs@x", "ca").outcome == PASSED


def test_folders() -> None:
    ok = mail.folders("done", None, ("ARCHIVE", "INBOX"), "inbox", "ARCHIVE")
    assert ok.outcome == PASSED                                     # INBOX is case-insensitive
    v = mail.folders("done", None, ("INBOX",), "INBOX", "ARCHIVE")
    assert v.outcome == FAILED and "ARCHIVE" in v.message
    assert mail.folders("done", None, ("INBOX",), "INBOX", None).outcome == FAILED
    assert mail.folders("login", "refused", (), "INBOX", "ARCHIVE").outcome == ERROR


def test_inbox_size() -> None:
    assert mail.inbox_size(1000, "INBOX", 1000).outcome == PASSED
    v = mail.inbox_size(1001, "INBOX", 1000)
    assert v.outcome == FAILED and v.found == "1001 messages"
    assert mail.inbox_size(None, "INBOX", 1000).outcome == ERROR


def test_smtp_submission() -> None:
    v = mail.smtp_submission("ready", None, "smtp:587", "STARTTLS", "peer", "u@x", "login", ())
    assert v.outcome == PASSED and "only after STARTTLS" in v.message
    v = mail.smtp_submission("auth", "the server offers no AUTH, also not after TLS",
                             "smtp:587", "STARTTLS", "peer", "u@x", "login", ())
    assert v.outcome == FAILED and "AUTH failed" in v.message and "AUTH LOGIN as u@x" in \
        str(v.expected)


def test_round_trip_verdicts() -> None:
    to = "rs+t@x.org"
    ok = mail.round_trip(to, "done", None, 0.2, to, "deleted (UID 7, nothing else)",
                         "subaddressing", "INBOX")
    assert ok.outcome == PASSED and "0.2 s" in ok.message
    changed = mail.round_trip(to, "done", None, 0.2, "rs@x.org", "deleted (UID 7)",
                              "subaddressing", "INBOX")
    assert changed.outcome == FAILED and changed.found == "To: rs@x.org"
    kept = mail.round_trip(to, "done", None, 0.2, to, "marked \\Deleted (UID 7) but not "
                           "expunged", "subaddressing", "INBOX")
    assert kept.outcome == FAILED
    late = mail.round_trip(to, "wait", "the probe did not arrive in INBOX within 60 s", None,
                           None, "nothing to delete", "subaddressing", "INBOX")
    assert late.outcome == FAILED and "within 60 s" in late.message
    cannot = mail.round_trip(to, "send", "could not submit the probe: AUTH refused", None, None,
                             "nothing to delete", "subaddressing", "INBOX")
    assert cannot.outcome == ERROR


# -- PostgreSQL ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("num", "outcome"), [(180004, PASSED), (170010, PASSED),
                                              (150014, FAILED), (190000, FAILED)])
def test_pg_version(num: int, outcome: str) -> None:
    v = pg.version(num, None, [17, 18], 18)
    assert v.outcome == outcome
    if num // 10000 == 17:
        assert "18 is recommended" in v.message


def test_writer_rights() -> None:
    def rights(createdb: bool, exists: bool, db_create: bool, public: bool) -> Verdict:
        return pg.writer_rights("w", "rs", None, False, createdb, exists, db_create, public)

    assert rights(True, False, False, False).outcome == PASSED
    assert rights(False, True, True, True).outcome == PASSED
    assert rights(False, True, False, True).outcome == PASSED
    v = rights(False, True, False, False)
    assert v.outcome == FAILED and "PostgreSQL 15+" in v.message
    v = rights(False, False, False, False)
    assert v.outcome == FAILED and "does not exist" in v.message
    v = pg.writer_rights("w", "rs", "password authentication failed", False, False, False,
                         False, False)
    assert v.outcome == FAILED and "login as w failed" in v.message


@pytest.mark.parametrize(("value", "mode"), [
    (None, "verify-full"), ("VERIFY_IDENTITY", "verify-full"), ("VERIFY_CA", "verify-ca"),
    ("REQUIRED", "require"), ("PREFERRED", "prefer"), ("DISABLED", "disable"),
    ("required", "require")])
def test_ssl_mode_mapping(value: str | None, mode: str) -> None:
    assert pg_probe.sslmode_for(value) == mode


def test_unknown_ssl_mode_cannot_be_checked() -> None:
    with pytest.raises(ProbeError, match="RS-ENV-04"):
        pg_probe.sslmode_for("ALWAYS")


@pytest.mark.parametrize(("text", "kind"), [
    ('connection to server at "10.0.0.1", port 5432 failed: server does not support SSL, but '
     'SSL was required', "tls"),
    ('server certificate for "pg.lab" does not match host name "db1"', "tls"),
    ("certificate verify failed", "tls"),
    ('no pg_hba.conf entry for host "10.0.0.2", user "w", database "rs", no encryption', "tls"),
    ('password authentication failed for user "w"', "auth"),
    ('database "rservice" does not exist', "nodb"),
    ("connection to server at \"10.0.0.1\", port 5432 failed: Connection refused", "unreachable"),
])
def test_libpq_errors_are_classified(text: str, kind: str) -> None:
    assert pg_probe._kind(text) == kind


def test_tls_mode() -> None:
    v = pg.tls_mode("VERIFY_IDENTITY", "verify-full", "does not match host name", None, None,
                    "db1")
    assert v.outcome == FAILED and "valid for db1" in str(v.expected)
    assert pg.tls_mode("REQUIRED", "require", None, None, True, "db1").outcome == PASSED
    assert pg.tls_mode("REQUIRED", "require", None, "refused", None, "db1").outcome == ERROR


def test_reader() -> None:
    assert pg.reader(18, 18, True, None, "r", "pg-r").outcome == PASSED
    primary = pg.reader(18, 18, False, None, "r", "pg-r")
    assert primary.outcome == FAILED and primary.severity == "warning"
    other = pg.reader(18, 17, True, None, "r", "pg-r")
    assert other.outcome == FAILED and other.severity is None
    assert pg.reader(18, None, None, "refused", "r", "pg-r").outcome == FAILED


@pytest.mark.parametrize("leader", ["leader", "primary", "master"])
def test_patroni_cluster_accepts_every_leader_name(leader: str) -> None:
    doc = {"members": [{"name": "a", "role": leader, "state": "running"},
                       {"name": "b", "role": "replica", "state": "streaming"},
                       {"name": "c", "role": "sync_standby", "state": "streaming"}]}
    assert pg.patroni_cluster(doc, 3, "db1:8008").outcome == PASSED


def test_patroni_cluster_problems() -> None:
    two = {"members": [{"name": "a", "role": "leader", "state": "running"},
                       {"name": "b", "role": "replica", "state": "stopped"}]}
    v = pg.patroni_cluster(two, 3, "db1:8008")
    assert v.outcome == FAILED and "2 member(s)" in v.message and "not streaming: b" in v.message
    assert "0 leader(s)" in pg.patroni_cluster({"members": []}, 3, "x").message


def test_patroni_cluster_running_replica_is_not_streaming() -> None:
    """Patroni >= 3.0.4 (real 4.1.5 in the lab): a replica "running" has no WAL receiver."""
    doc = {"members": [{"name": "a", "role": "leader", "state": "running"},
                       {"name": "b", "role": "replica", "state": "running"},
                       {"name": "c", "role": "replica", "state": "in archive recovery"}]}
    v = pg.patroni_cluster(doc, 3, "db1:8008")
    assert v.outcome == FAILED
    assert "not streaming: b (running), c (in archive recovery)" in v.message


def test_patroni_cluster_leader_must_run() -> None:
    """A leader whose PostgreSQL is not running (starting, crashed…) is no working primary."""
    doc = {"members": [{"name": "a", "role": "leader", "state": "crashed"},
                       {"name": "b", "role": "replica", "state": "streaming"},
                       {"name": "c", "role": "replica", "state": "streaming"}]}
    v = pg.patroni_cluster(doc, 3, "db1:8008")
    assert v.outcome == FAILED and "leader not running: a (crashed)" in v.message


# -- OpenSearch ------------------------------------------------------------------------------------

def _root(number: str, dist: str | None = "opensearch") -> dict[str, object]:
    ver: dict[str, object] = {"number": number}
    if dist:
        ver["distribution"] = dist
    return {"version": ver}


def test_search_version() -> None:
    assert search.version(_root("3.5.0"), "opensearch", 3).outcome == PASSED
    assert search.version(_root("3.0.0-SNAPSHOT"), "opensearch", 3).outcome == PASSED
    v = search.version(_root("2.19.1"), "opensearch", 3)
    assert v.outcome == FAILED and "2.19.1" in v.message
    compat = search.version(_root("7.10.2", None), "opensearch", 3)
    assert compat.outcome == FAILED and "compatibility" in compat.message
    assert search.version(_root("8.1.0", "elasticsearch"), "opensearch", 3).outcome == FAILED


def test_search_plugins_on_every_node() -> None:
    need = ["analysis-icu", "analysis-phonenumber"]
    rows = [{"name": n, "component": p} for n in ("n1", "n2") for p in need]
    assert search.plugins(rows, 2, need).outcome == PASSED
    v = search.plugins(rows[:-1], 2, need)
    assert v.outcome == FAILED and "analysis-phonenumber (the guide misspells it " \
        "analysis-phonenumbers) missing on n2" in v.message
    bare = search.plugins(rows, 3, need)
    assert bare.outcome == FAILED and "1 of 3 node(s) have no plugins" in bare.message


def test_search_health() -> None:
    green = {"status": "green", "number_of_nodes": 1, "unassigned_shards": 0}
    assert search.health(green, "small", 3).outcome == PASSED
    red = search.health({**green, "status": "red"}, "small", 3)
    assert red.outcome == FAILED and red.severity is None           # the catalogue's: blocker
    yellow = search.health({**green, "status": "yellow"}, "small", 3)
    assert yellow.outcome == FAILED and yellow.severity == "warning"
    large = search.health(green, "large", 3)
    assert large.outcome == FAILED and large.severity == "warning"
    assert search.health({**green, "number_of_nodes": 3}, "large", 3).outcome == PASSED


def test_search_urls_never_show_credentials() -> None:
    got = search_probe.urls("https://admin:s3cret@search1:9200, search2:9200,")
    assert got == ["https://admin:s3cret@search1:9200", "http://search2:9200"]
    assert search_probe.shown(got[0]) == "https://search1:9200"
    assert search_probe.shown("http://[fd00::1]:9200/") == "http://[fd00::1]:9200"
