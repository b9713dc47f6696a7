"""The lab's data-side services are real and can pass and fail RS-MAIL-02..07 and RS-PG-01..04.

Run from the repository root: ``python -m pytest tests/lab/test_data.py -q`` (needs root,
Postfix, Dovecot and ``scripts/setup-postgres``).
"""

from __future__ import annotations

import imaplib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import psycopg
import pytest
from psycopg import errors

from rs_lab.mail import MailServer
from rs_lab.postgres import PgServer

if __package__:
    from .data_fixtures import (
        LabIMAP,
        LabIMAPSSL,
        LabSMTP,
        LabSMTPSSL,
        broken_mail,
        data_pki,
        data_root,
        lab_context,
        mail,
        mail_catch_all,
        pg_servers,
        wait_for_message,
    )
else:  # rootdir-relative import (tests/lab is not a package)
    from data_fixtures import (  # type: ignore[no-redef, unused-ignore]
        LabIMAP,
        LabIMAPSSL,
        LabSMTP,
        LabSMTPSSL,
        broken_mail,
        data_pki,
        data_root,
        lab_context,
        mail,
        mail_catch_all,
        pg_servers,
        wait_for_message,
    )

pytestmark = pytest.mark.lab

# imported fixtures
__all__ = ["broken_mail", "data_pki", "data_root", "mail", "mail_catch_all", "pg_servers"]


# -- helpers -----------------------------------------------------------------------------------
def imap_login(server: MailServer, port: int = 993) -> imaplib.IMAP4:
    ctx = lab_context(server.pki.root_path)
    imap: imaplib.IMAP4
    if port == 993:
        imap = LabIMAPSSL(server.ipv4, server.name, ctx)
    else:
        imap = LabIMAP(server.ipv4, server.name, port)
    try:
        if port != 993:
            imap.starttls(ctx)
        imap.login(server.inbound.address, server.inbound.password)
    except BaseException:
        imap.shutdown()
        raise
    return imap


def submit(server: MailServer, to: str, port: int = 587) -> str:
    """Send a probe as the sender account over ``port``; return its Message-ID."""
    ctx = lab_context(server.pki.root_path)
    msg = EmailMessage()
    msg["From"] = server.sender.address
    msg["To"] = to
    msg["Subject"] = "rs-preflight lab probe"
    msg["Message-ID"] = make_msgid("probe", server.spec.domain)
    msg.set_content("probe\n")
    smtp: smtplib.SMTP
    if port == 465:
        smtp = LabSMTPSSL(server.ipv4, server.name, 465, ctx)
    else:
        smtp = LabSMTP(server.ipv4, server.name, port)
        smtp.starttls(context=ctx)
    with smtp:
        smtp.login(server.sender.address, server.sender.password)
        smtp.send_message(msg)
    return str(msg["Message-ID"])


def received_to(server: MailServer, message_id: str) -> str | None:
    """The To header of the probe in INBOX (then delete only it), or None if it never came."""
    imap = imap_login(server)
    try:
        imap.select("INBOX")
        uid = wait_for_message(imap, message_id)
        if uid is None:
            return None
        _, data = imap.uid("FETCH", uid.decode(), "(BODY.PEEK[HEADER.FIELDS (TO)])")
        header = data[0][1].decode() if data and isinstance(data[0], tuple) else ""
        imap.uid("STORE", uid.decode(), "+FLAGS", "(\\Deleted)")
        imap.uid("EXPUNGE", uid.decode())
        return header.partition(":")[2].strip()
    finally:
        imap.logout()


def folders(imap: imaplib.IMAP4) -> set[str]:
    _, rows = imap.list()
    return {row.decode().rsplit(" ", 1)[-1].strip('"') for row in rows if isinstance(row, bytes)}


# -- mail: working server ----------------------------------------------------------------------
@pytest.mark.parametrize("port", [143, 993])
def test_imap_login_verifies_lab_ca(mail: MailServer, port: int) -> None:
    imap = imap_login(mail, port)
    try:
        assert imap.state == "AUTH"
    finally:
        imap.logout()


def test_imap_143_refuses_login_before_starttls(mail: MailServer) -> None:
    imap = LabIMAP(mail.ipv4, mail.name)
    try:
        assert "LOGINDISABLED" in imap.capabilities
    finally:
        imap.shutdown()


def test_folders_inbox_and_archive(mail: MailServer) -> None:
    imap = imap_login(mail)
    try:
        assert {"INBOX", "ARCHIVE"} <= folders(imap)
        assert imap.select("ARCHIVE")[0] == "OK"
    finally:
        imap.logout()


def test_smtp_587_auth_only_after_starttls(mail: MailServer) -> None:
    with LabSMTP(mail.ipv4, mail.name, 587) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")
        smtp.starttls(context=lab_context(mail.pki.root_path))
        smtp.ehlo()
        assert {"PLAIN", "LOGIN", "CRAM-MD5"} <= set(smtp.esmtp_features["auth"].split())
        assert smtp.login(mail.sender.address, mail.sender.password)[0] == 235


def test_smtp_465_implicit_tls_auth(mail: MailServer) -> None:
    ctx = lab_context(mail.pki.root_path)
    with LabSMTPSSL(mail.ipv4, mail.name, 465, ctx) as smtp:
        assert smtp.login(mail.sender.address, mail.sender.password)[0] == 235


def test_smtp_25_offers_starttls(mail: MailServer) -> None:
    with LabSMTP(mail.ipv4, mail.name, 25) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")


@pytest.mark.parametrize("port", [587, 465])
def test_subaddressed_mail_arrives_with_to_intact(mail: MailServer, port: int) -> None:
    to = f"rs+tenant{port}@{mail.spec.domain}"
    assert received_to(mail, submit(mail, to, port)) == to


def test_catch_all_mail_arrives_with_to_intact(mail_catch_all: MailServer) -> None:
    to = f"tenant@{mail_catch_all.spec.mail_domain}"
    assert received_to(mail_catch_all, submit(mail_catch_all, to)) == to


def test_no_relay_off_the_lab(mail: MailServer) -> None:
    with LabSMTP(mail.ipv4, mail.name, 25) as smtp, pytest.raises(
            smtplib.SMTPRecipientsRefused):
        smtp.sendmail("x@example.org", ["victim@example.org"], b"Subject: relay\r\n\r\nno\r\n")


# -- mail: each toggle breaks its thing --------------------------------------------------------
def test_broken_mail_breaks_its_thing(broken_mail: tuple[str, MailServer]) -> None:
    toggle, server = broken_mail
    check = BREAKS[toggle]
    check(server)


def _no_archive(server: MailServer) -> None:
    imap = imap_login(server)
    try:
        assert "ARCHIVE" not in folders(imap)
        assert imap.select("ARCHIVE")[0] == "NO"
    finally:
        imap.logout()


def _no_subaddressing(server: MailServer) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        submit(server, f"rs+tenant@{server.spec.domain}")
    to = f"rs@{server.spec.domain}"  # the plain address still works: only the "+" is broken
    assert received_to(server, submit(server, to)) == to


def _no_auth(server: MailServer) -> None:
    with LabSMTP(server.ipv4, server.name, 587) as smtp:
        smtp.starttls(context=lab_context(server.pki.root_path))
        smtp.ehlo()
        assert not smtp.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.login(server.sender.address, server.sender.password)


def _wrong_password(server: MailServer) -> None:
    # One mechanism only: Dovecot delays each further failure from the same address.
    with LabSMTP(server.ipv4, server.name, 587) as smtp:
        smtp.starttls(context=lab_context(server.pki.root_path))
        smtp.ehlo()
        smtp.user, smtp.password = server.sender.address, server.sender.password
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.auth("PLAIN", smtp.auth_plain)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap_login(server)


def _self_signed(server: MailServer) -> None:
    ctx = lab_context(server.pki.root_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        LabIMAPSSL(server.ipv4, server.name, ctx)
    with pytest.raises(ssl.SSLCertVerificationError):
        LabSMTPSSL(server.ipv4, server.name, 465, ctx)
    trusting = lab_context(server.root_path)  # trusting the leaf itself: everything else works
    imap = LabIMAPSSL(server.ipv4, server.name, trusting)
    imap.login(server.inbound.address, server.inbound.password)
    imap.logout()


def _big_inbox(server: MailServer) -> None:
    imap = imap_login(server)
    try:
        status, data = imap.select("INBOX", readonly=True)
        assert status == "OK" and int(data[0] or 0) == 1001
    finally:
        imap.logout()


BREAKS = {"no-archive": _no_archive, "no-subaddressing": _no_subaddressing, "no-auth": _no_auth,
          "wrong-password": _wrong_password, "self-signed": _self_signed,
          "big-inbox": _big_inbox}


# -- PostgreSQL --------------------------------------------------------------------------------
def one(server: PgServer, query: str, which: str = "writer", **kw: Any) -> object:
    with psycopg.connect(server.conninfo(which, **kw)) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return row[0]


@pytest.mark.parametrize(("key", "major"), [("pg15", 15), ("pg17", 17), ("pg18", 18)])
def test_pg_server_version_num(pg_servers: dict[str, PgServer], key: str, major: int) -> None:
    assert int(str(one(pg_servers[key], "SHOW server_version_num"))) // 10000 == major


def test_pg_tls_verify_full_with_lab_root(pg_servers: dict[str, PgServer]) -> None:
    pg = pg_servers["pg18"]
    with psycopg.connect(pg.conninfo("writer", sslmode="verify-full")) as conn:
        assert conn.pgconn.ssl_in_use
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        psycopg.connect(pg.conninfo("writer", sslmode="verify-full").replace(
            f"host={pg.name}", "host=other.rs.lab"))


def test_pg_tls_only_rejects_plain_text(pg_servers: dict[str, PgServer]) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(pg_servers["pg18"].conninfo("writer", sslmode="disable"))


def test_pg_without_tls(pg_servers: dict[str, PgServer]) -> None:
    pg = pg_servers["pg17"]
    assert one(pg, "SELECT 1", sslmode="disable") == 1
    with pytest.raises(psycopg.OperationalError, match="does not support SSL"):
        psycopg.connect(pg.conninfo("writer", sslmode="require"))


def test_pg_self_signed_fails_verification(pg_servers: dict[str, PgServer]) -> None:
    pg = pg_servers["pg18-self-signed"]
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(pg.conninfo("writer", sslmode="verify-ca"))
    assert one(pg, "SELECT 1", sslmode="require") == 1


@pytest.mark.parametrize("key", ["pg15", "pg17", "pg18"])
def test_pg_createdb_role_vs_not(pg_servers: dict[str, PgServer], key: str) -> None:
    pg = pg_servers[key]
    with psycopg.connect(pg.conninfo("writer"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE rs_probe")
        conn.execute("DROP DATABASE rs_probe")
    with psycopg.connect(pg.conninfo("plain"), autocommit=True) as conn:
        assert conn.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
                            ).fetchone() == (False,)
        assert conn.execute("SELECT has_database_privilege(current_database(), 'CREATE'),"
                            " has_schema_privilege('public', 'CREATE')").fetchone() == (
                                False, False)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE rs_probe")
    # the database's owner has no CREATEDB but may create in its own database
    with psycopg.connect(pg.conninfo("owner"), autocommit=True) as conn:
        assert conn.execute("SELECT has_database_privilege(current_database(), 'CREATE'),"
                            " has_schema_privilege('public', 'CREATE')").fetchone() == (
                                True, True)


@pytest.mark.parametrize("key", ["pg15", "pg18"])
def test_pg_replica_is_in_recovery(pg_servers: dict[str, PgServer], key: str) -> None:
    pg = pg_servers[key]
    assert pg.reader is not None
    assert one(pg, "SELECT pg_is_in_recovery()") is False
    with psycopg.connect(pg.reader.conninfo("writer")) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        version = conn.execute("SHOW server_version_num").fetchone()
    assert version is not None and int(version[0]) // 10000 == pg.spec.version


def test_pg_reader_that_is_a_primary(pg_servers: dict[str, PgServer]) -> None:
    pg = pg_servers["pg18-reader-primary"]
    assert pg.reader is not None
    with psycopg.connect(pg.reader.conninfo("writer")) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
