"""RS-MAIL-*, RS-PG-*, RS-SEARCH-* end to end, as a user runs them, against the real lab.

Postfix + Dovecot (one namespace; restarted there with each broken toggle), PostgreSQL 18 with a
streaming replica, PostgreSQL 15 without TLS and OpenSearch stand-ins, each in namespaces of the
module's lease.
The product runs as ``python -m rs_preflight.cli --site site.yaml -k ...`` in a fresh folder and
``rs-preflight-report/results.json`` is read. Names reach the product only through the site's
hosts (``mail.rs.lab: {address: …}``), never a resolver: probes connect to addresses and carry
names in TLS. Everything is torn down, also on failure.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from rs_lab.indices import Lease
from rs_lab.mail import MailServer, MailSpec
from rs_lab.netns import Namespace, create_fresh
from rs_lab.opensearch_standin import OpenSearchStandIn, SearchSpec
from rs_lab.pki import Pki
from rs_lab.postgres import PgServer, PgSpec
from rs_lab.preflight import Run, run_preflight
from rs_lab.workdir import remove, service_root

if __package__:
    from .data_fixtures import LabIMAPSSL, lab_context
else:  # rootdir-relative import (tests/lab is not a package)
    from data_fixtures import LabIMAPSSL, lab_context  # type: ignore[no-redef, unused-ignore]

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("postfix") is None:  # pragma: no cover
    pytest.skip("needs root, Postfix, Dovecot and PostgreSQL", allow_module_level=True)

SEARCH_KEYS = ("3.5.0", "2.19.1", "missing-plugin", "red", "yellow", "tls-3")
MAIL_IDS = tuple(f"RS-MAIL-0{i}" for i in range(1, 8))
PG_IDS = tuple(f"RS-PG-0{i}" for i in range(1, 6))
SEARCH_IDS = ("RS-SEARCH-01", "RS-SEARCH-02", "RS-SEARCH-03")
SEARCH_TLS = SearchSpec(nodes=3, tls=True)
SECRETS = ("lab-inbound-pw", "lab-sender-pw", "lab-writer-pw", "lab-plain-pw", "lab-owner-pw",
           SEARCH_TLS.password)


@dataclass
class DataLab:
    root: Path
    pki: Pki
    mail_ns: Namespace
    pg18: PgServer
    pg15: PgServer
    search: dict[str, OpenSearchStandIn]
    mail: MailServer | None = None
    runs: int = 0
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def serve_mail(self, spec: MailSpec) -> MailServer:
        """(Re)start Postfix + Dovecot in the mail namespace with ``spec``."""
        self.stop_mail()
        self.runs += 1
        self.mail = MailServer(spec, self.root / f"mail-{self.runs}", self.pki, ns=self.mail_ns)
        return self.mail.start()

    def stop_mail(self) -> None:
        if self.mail is not None:
            self.mail.stop()
            self.mail = None


@pytest.fixture(scope="module")
def data_lab(lab_lease: Lease) -> Iterator[DataLab]:
    root = service_root("checks-data")
    stack = contextlib.ExitStack()
    try:
        pki = Pki.create(root / "pki")
        mail_ns = create_fresh(Namespace("dmail", lab_lease.take("mail")))
        stack.callback(mail_ns.destroy)
        pg18 = PgServer(PgSpec(version=18, short="dp18", replica=True), root / "pg18", pki,
                        index=lab_lease.block(2, "pg18")[0])
        stack.callback(pg18.stop)
        pg18.start()
        pg15 = PgServer(PgSpec(version=15, short="dp15", tls=False), root / "pg15", pki,
                        index=lab_lease.take("pg15"))
        stack.callback(pg15.stop)
        pg15.start()
        search = {}
        for key in SEARCH_KEYS:
            spec: SearchSpec | str = SEARCH_TLS if key == "tls-3" else key
            svc = OpenSearchStandIn(lab_lease.take(key), root / f"search-{key}", spec, pki=pki,
                                    cert_names=["search.rs.lab"])
            stack.callback(svc.stop)
            search[key] = svc.start()
        lab = DataLab(root, pki, mail_ns, pg18, pg15, search)
        stack.callback(lab.stop_mail)
        lab.serve_mail(MailSpec(short="dmail"))
        yield lab
    finally:
        stack.close()
        remove(root)


# -- running the product as a user does ------------------------------------------------------------

def env_values(lab: DataLab, **over: str) -> dict[str, str]:
    reader = lab.pg18.reader
    assert reader is not None and lab.mail is not None
    values = {
        "ITRP_DOMAIN": "rs.lab",
        "ITRP_ERRORS_MAILBOX": "errors@rs.lab", "ITRP_INFO_MAILBOX": "info@rs.lab",
        "ITRP_SUPPORT_MAILBOX": "support@rs.lab", "ITRP_NOREPLY_MAILBOX": "noreply@rs.lab",
        "ITRP_INBOUND_MAILBOX": "rs@rs.lab", "ITRP_BOUNCED_MAILBOX": "bounces@rs.lab",
        "ITRP_INBOUND_CATCH_ALL": "false",
        "CLACKS_ADDRESS": "dmail.rs.lab", "CLACKS_PORT": "993", "CLACKS_ENABLE_SSL": "true",
        "CLACKS_USERNAME": "rs@rs.lab", "CLACKS_PASSWORD": "lab-inbound-pw",
        "CLACKS_MAILBOX": "INBOX", "CLACKS_ARCHIVEBOX": "ARCHIVE",
        "RSERVICE_SMTP_HOST": "dmail.rs.lab", "RSERVICE_SMTP_PORT": "587",
        "RSERVICE_SMTP_USERNAME": "noreply@rs.lab", "RSERVICE_SMTP_PASSWORD": "lab-sender-pw",
        "RSERVICE_SMTP_AUTHENTICATION": "login", "RSERVICE_SMTP_OPENSSL_VERIFY_MODE": "peer",
        "DB_WRITER_HOST": lab.pg18.name, "DB_WRITER_PORT": "5432",
        "DB_WRITER_USERNAME": "rs_writer", "DB_WRITER_PASSWORD": "lab-writer-pw",
        "DB_WRITER_DATABASE": "rservice", "DB_SSL_MODE": "VERIFY_IDENTITY",
        "DB_READER_HOST": reader.name,
        "ELASTICSEARCH_URLS": lab.search["3.5.0"].url,
    }
    values.update(over)
    return values


def write_site(folder: Path, lab: DataLab, *, phase: str, profile: str,
               env: dict[str, str]) -> Path:
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    reader = lab.pg18.reader
    assert reader is not None
    hosts = {"dmail.rs.lab": (lab.mail_ns.ipv4, "job"), lab.pg18.name: (lab.pg18.ipv4, "db"),
             reader.name: (reader.ipv4, "db"), "db1": (lab.pg18.ipv4, "db"),
             lab.pg15.name: (lab.pg15.ipv4, "db"),
             "search.rs.lab": (lab.search["tls-3"].ipv4, "search")}
    lines = ["name: lab-data", f"profile: {profile}", f"phase: {phase}", "env_files: [.env]",
             f"tls: {{ca_bundle: {lab.pki.root_path}}}", "hosts:",
             *(f"  {n}: {{address: {a}, roles: [{r}], ssh: false}}"
               for n, (a, r) in hosts.items())]
    path = folder / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_checks(lab: DataLab, select: str, *, phase: str = "pre", profile: str = "small",
               args: tuple[str, ...] = (), **env: str) -> Run:
    lab.runs += 1
    folder = lab.root / f"run-{lab.runs}"
    folder.mkdir()
    path = write_site(folder, lab, phase=phase, profile=profile, env=env_values(lab, **env))
    run = run_preflight(path, "-k", select, *args, cwd=folder)
    text = (folder / "rs-preflight-report" / "results.json").read_text()
    for secret in SECRETS:  # never in any output, not even redacted by luck
        assert secret not in text and secret not in run.output
    for record in run.doc["results"]:  # we never hand a secret to the redactor in a message
        assert "<redacted>" not in record["message"] + str(record["found"]), record
    return run


def assert_only(run: Run, ids: tuple[str, ...], failing: dict[str, str],
                outcome: dict[str, str] | None = None) -> None:
    """``failing`` fail with that text in the message; ``outcome`` as given; others pass."""
    for rid in ids:
        record = run[rid]
        if rid in failing:
            assert record["outcome"] == "failed", record
            assert failing[rid] in record["message"], record
            assert record["expected"] and record["found"], record
        elif outcome and rid in outcome:
            assert record["outcome"] == outcome[rid], record
        else:
            assert record["outcome"] == "passed", record


# -- mail helpers --------------------------------------------------------------------------------

def _imap(lab: DataLab) -> imaplib.IMAP4:
    assert lab.mail is not None
    imap = LabIMAPSSL(lab.mail.ipv4, lab.mail.name, lab_context(lab.pki.root_path))
    imap.login("rs@rs.lab", "lab-inbound-pw")
    imap.select("INBOX")
    client: imaplib.IMAP4 = imap
    return client


def plant(lab: DataLab, deleted: bool) -> str:
    """Put a message of someone else's into INBOX (optionally already flagged \\Deleted)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "tenant@rs.lab", "rs+acme@rs.lab", "not yours"
    msg["Message-ID"] = make_msgid("planted", "rs.lab")
    msg.set_content("a tenant's comment\n")
    imap = _imap(lab)
    try:
        flags = "(\\Deleted)" if deleted else "()"
        imap.append("INBOX", flags, imaplib.Time2Internaldate(time.time()), msg.as_bytes())
    finally:
        imap.logout()
    return str(msg["Message-ID"])


def inbox(lab: DataLab) -> list[str]:
    """Message-IDs in INBOX, every one (also those flagged \\Deleted)."""
    imap = _imap(lab)
    try:
        imap.noop()
        _, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    finally:
        imap.logout()
    return [part[1].decode().partition(":")[2].strip() for part in data
            if isinstance(part, tuple)]


# -- healthy -------------------------------------------------------------------------------------

ALL = "RS-MAIL or RS-PG or RS-SEARCH"
ALL_IDS = MAIL_IDS + PG_IDS + SEARCH_IDS


def test_healthy_site_passes_and_the_round_trip_deletes_only_its_probe(data_lab: DataLab
                                                                       ) -> None:
    data_lab.serve_mail(MailSpec(short="dmail"))
    theirs, flagged = plant(data_lab, deleted=False), plant(data_lab, deleted=True)
    run = run_checks(data_lab, ALL)
    assert_only(run, ALL_IDS, {}, {"RS-MAIL-04": "skipped", "RS-PG-05": "skipped"})
    assert run.code == 0 and run.doc["gate"] == "incomplete", run.output[-3000:]  # -k: narrowed
    trip = run["RS-MAIL-06"]["message"]
    assert "rs+rs-preflight-" in trip and "arrived in INBOX after" in trip, trip
    assert "deleted (UID" in trip
    assert "only after STARTTLS" in run["RS-MAIL-05"]["message"]    # AUTH hidden before TLS
    assert "runs PostgreSQL 18" in run["RS-PG-01"]["message"]
    assert "replica" in run["RS-PG-04"]["message"]
    left = inbox(data_lab)
    assert theirs in left and flagged in left                    # others' mail survives
    assert not any("rs-preflight" in mid for mid in left), left  # our probe is gone


def test_post_phase_counts_the_inbox_and_runs_the_probe_only_when_asked(data_lab: DataLab
                                                                        ) -> None:
    run = run_checks(data_lab, "RS-MAIL", phase="post")
    assert run["RS-MAIL-06"]["outcome"] == "skipped"
    assert "--rs-mail-probe=on" in run["RS-MAIL-06"]["message"]
    assert run["RS-MAIL-04"]["outcome"] == "passed", run["RS-MAIL-04"]
    run = run_checks(data_lab, "RS-MAIL-06", phase="post", args=("--rs-mail-probe=on",))
    assert run["RS-MAIL-06"]["outcome"] == "passed", run["RS-MAIL-06"]


def test_catch_all_server_passes_in_catch_all_mode(data_lab: DataLab) -> None:
    data_lab.serve_mail(MailSpec(short="dmail", catch_all=True, subaddressing=False))
    try:
        run = run_checks(data_lab, "RS-MAIL-06", ITRP_INBOUND_CATCH_ALL="true",
                         ITRP_INBOUND_MAILBOX="rs@mail.rs.lab")
    finally:
        data_lab.serve_mail(MailSpec(short="dmail"))
    record = run["RS-MAIL-06"]
    assert record["outcome"] == "passed", record
    assert "@mail.rs.lab" in record["message"] and "(catch-all)" in record["expected"]


# -- broken by settings, on healthy servers ------------------------------------------------------

def test_wrong_imap_password_plain_role_and_opensearch_2(data_lab: DataLab) -> None:
    run = run_checks(data_lab, ALL, CLACKS_PASSWORD="not-the-password",
                     DB_WRITER_USERNAME="rs_plain", DB_WRITER_PASSWORD="lab-plain-pw",
                     DB_READER_USERNAME="rs_writer", DB_READER_PASSWORD="lab-writer-pw",
                     ELASTICSEARCH_URLS=data_lab.search["2.19.1"].url)
    assert_only(run, ALL_IDS, {"RS-MAIL-02": "login failed", "RS-PG-02": "may neither create",
                               "RS-SEARCH-01": "OpenSearch 2.19.1, not 3.x"},
                {"RS-MAIL-03": "error", "RS-MAIL-04": "skipped", "RS-MAIL-06": "error",
                 "RS-PG-05": "skipped"})
    assert run.code == 1


def test_imap_without_tls_other_db_name_missing_plugin(data_lab: DataLab) -> None:
    run = run_checks(data_lab, ALL, CLACKS_PORT="143", DB_WRITER_HOST="db1",
                     ELASTICSEARCH_URLS=data_lab.search["missing-plugin"].url)
    assert_only(run, ALL_IDS, {
        "RS-MAIL-02": "implicit TLS did not work", "RS-MAIL-07": "CLACKS_PORT=143",
        "RS-PG-03": "does not match host name",
        "RS-SEARCH-02": "analysis-phonenumber (the guide misspells it analysis-phonenumbers) "
                        "missing on rs-search-node3"},
        {"RS-MAIL-03": "error", "RS-MAIL-04": "skipped", "RS-MAIL-06": "error",
         "RS-PG-05": "skipped"})
    assert run["RS-MAIL-07"]["severity"] == "warning"


def test_catch_all_missing_reader_primary_red_cluster(data_lab: DataLab) -> None:
    run = run_checks(data_lab, ALL, ITRP_INBOUND_CATCH_ALL="true",
                     ITRP_INBOUND_MAILBOX="rs@mail.rs.lab", DB_READER_HOST=data_lab.pg18.ipv4,
                     ELASTICSEARCH_URLS=data_lab.search["red"].url)
    assert_only(run, ALL_IDS, {"RS-MAIL-06": "refused the recipient rs-preflight-",
                               "RS-PG-04": "is a primary", "RS-SEARCH-03": "red"},
                {"RS-MAIL-04": "skipped", "RS-PG-05": "skipped"})
    assert run["RS-PG-04"]["severity"] == "warning"
    assert run["RS-SEARCH-03"]["severity"] == "blocker" and run.code == 1


def test_postgres_15_without_tls_and_a_yellow_cluster(data_lab: DataLab) -> None:
    run = run_checks(data_lab, "RS-PG or RS-SEARCH", DB_WRITER_HOST=data_lab.pg15.name,
                     DB_SSL_MODE="REQUIRED", DB_READER_HOST="",
                     ELASTICSEARCH_URLS=data_lab.search["yellow"].url)
    assert_only(run, PG_IDS + SEARCH_IDS, {
        "RS-PG-01": "PostgreSQL 15", "RS-PG-03": "sslmode=require",
        "RS-SEARCH-03": "yellow"}, {"RS-PG-04": "skipped", "RS-PG-05": "skipped"})
    assert "does not support SSL" in run["RS-PG-03"]["message"]
    assert run["RS-SEARCH-03"]["severity"] == "warning"


def test_large_profile_tls_search_with_credentials_and_no_patroni(data_lab: DataLab) -> None:
    svc = data_lab.search["tls-3"]
    url = f"https://{SEARCH_TLS.username}:{SEARCH_TLS.password}@search.rs.lab:9200"
    run = run_checks(data_lab, "RS-SEARCH or RS-PG-05", profile="large", ELASTICSEARCH_URLS=url)
    assert_only(run, SEARCH_IDS, {})
    assert "3 node(s)" in run["RS-SEARCH-03"]["message"]
    assert run["RS-PG-05"]["outcome"] == "error", run["RS-PG-05"]   # nothing on 8008
    assert svc.ipv4 not in run["RS-SEARCH-01"]["message"]           # the URL's name is shown


# -- broken mail servers -------------------------------------------------------------------------

def test_no_archive_and_no_smtp_auth(data_lab: DataLab) -> None:
    data_lab.serve_mail(MailSpec(short="dmail", archive_folder=False, smtp_auth=False))
    try:
        run = run_checks(data_lab, "RS-MAIL")
    finally:
        data_lab.serve_mail(MailSpec(short="dmail"))
    assert_only(run, MAIL_IDS, {"RS-MAIL-03": "missing IMAP folder(s): ARCHIVE",
                                "RS-MAIL-05": "offers no AUTH"},
                {"RS-MAIL-04": "skipped", "RS-MAIL-06": "error"})


def test_no_subaddressing_and_a_big_inbox(data_lab: DataLab) -> None:
    data_lab.serve_mail(MailSpec(short="dmail", subaddressing=False, inbox_messages=1001))
    try:
        run = run_checks(data_lab, "RS-MAIL", phase="post", args=("--rs-mail-probe=on",))
    finally:
        data_lab.serve_mail(MailSpec(short="dmail"))
    assert_only(run, MAIL_IDS, {"RS-MAIL-06": "refused the recipient rs+rs-preflight-",
                                "RS-MAIL-04": "1001 messages"})
    assert run["RS-MAIL-04"]["severity"] == "warning"
