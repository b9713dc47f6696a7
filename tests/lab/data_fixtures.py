"""Fixtures and clients for the lab's data-side services (mail, PostgreSQL); see test_data.py.

Clients connect to lab *addresses* and carry the lab *name* only in TLS (SNI and verification),
so no lab name ever reaches the system resolver (``/work/shared/LAB.md``, "Safety first").
"""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.indices import Lease
from rs_lab.mail import MailServer, MailSpec
from rs_lab.pki import Pki
from rs_lab.postgres import PgServer, PgSpec
from rs_lab.workdir import remove, service_root

RUNNER_NAME = "runner.rs.lab"  # our EHLO name: smtplib would otherwise ask the resolver (getfqdn)

# Mail variants (each in a namespace of its own, spec.short at an index from the lease)
MAIL_BROKEN = {
    "no-archive": MailSpec(short="mail-na", archive_folder=False),
    "no-subaddressing": MailSpec(short="mail-ns", subaddressing=False),
    "no-auth": MailSpec(short="mail-nx", smtp_auth=False),
    "wrong-password": MailSpec(short="mail-wp", wrong_password=True),
    "self-signed": MailSpec(short="mail-ss", self_signed=True),
    "big-inbox": MailSpec(short="mail-bi", inbox_messages=1001),
}


class LabSMTP(smtplib.SMTP):
    """SMTP to ``address`` with ``name`` as the TLS server name (STARTTLS verifies it)."""

    def __init__(self, address: str, name: str, port: int, **kw: Any) -> None:
        self._address = address
        super().__init__(name, port, local_hostname=RUNNER_NAME, timeout=30, **kw)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(  # type: ignore[misc]
            self._address, port, timeout)
        return sock


class LabSMTPSSL(smtplib.SMTP_SSL):
    """Implicit-TLS SMTP (465) to ``address``, verifying the certificate for ``name``."""

    def __init__(self, address: str, name: str, port: int, context: ssl.SSLContext) -> None:
        self._address = address
        super().__init__(name, port, local_hostname=RUNNER_NAME, timeout=30, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(  # type: ignore[misc]
            self._address, port, timeout)
        return sock


class LabIMAP(imaplib.IMAP4):
    """IMAP (143) to ``address``; ``starttls`` verifies the certificate for ``name``."""

    def __init__(self, address: str, name: str, port: int = 143) -> None:
        self._address = address
        super().__init__(name, port, timeout=30)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return socket.create_connection((self._address, self.port), timeout)


class LabIMAPSSL(imaplib.IMAP4_SSL):
    """Implicit-TLS IMAP (993) to ``address``, verifying the certificate for ``name``."""

    def __init__(self, address: str, name: str, context: ssl.SSLContext, port: int = 993) -> None:
        self._address = address
        super().__init__(name, port, ssl_context=context, timeout=30)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), timeout)
        wrapped: socket.socket = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        return wrapped


def lab_context(cafile: Path) -> ssl.SSLContext:
    """A verifying client context that trusts only ``cafile``."""
    return ssl.create_default_context(cafile=str(cafile))


def wait_for_message(imap: imaplib.IMAP4, message_id: str, bound: float = 30.0) -> bytes | None:
    """UID of the message with ``message_id`` in the selected folder, or None within ``bound``.

    NOOP before each SEARCH: a selected Dovecot folder otherwise answers from a stale view.
    """
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        imap.noop()
        _, data = imap.uid("SEARCH", "HEADER", "Message-ID", message_id)
        if data and data[0]:
            uid: bytes = data[0].split()[0]
            return uid
        time.sleep(0.05)
    return None


@pytest.fixture(scope="module")
def data_root() -> Iterator[Path]:
    """The services' work folders: not under pytest's basetemp, which other sessions chmod."""
    root = service_root("data")
    yield root
    remove(root)


@pytest.fixture(scope="module")
def data_pki(data_root: Path) -> Pki:
    return Pki.create(data_root / "pki")


def _mail(spec: MailSpec, lease: Lease, pki: Pki, root: Path) -> MailServer:
    return MailServer(spec, root / spec.short, pki, index=lease.take(spec.short))


@pytest.fixture(scope="module")
def mail(lab_lease: Lease, data_pki: Pki, data_root: Path) -> Iterator[MailServer]:
    """The working mail server: subaddressing, ARCHIVE, AUTH, the lab certificate."""
    with _mail(MailSpec(), lab_lease, data_pki, data_root) as server:
        yield server


@pytest.fixture(scope="module")
def mail_catch_all(lab_lease: Lease, data_pki: Pki,
                   data_root: Path) -> Iterator[MailServer]:
    """A working server whose inbound mail domain is a catch-all (``@mail.<domain>``)."""
    spec = MailSpec(short="mail-ca", catch_all=True, subaddressing=False)
    with _mail(spec, lab_lease, data_pki, data_root) as server:
        yield server


@pytest.fixture(scope="module", params=list(MAIL_BROKEN), ids=list(MAIL_BROKEN))
def broken_mail(request: pytest.FixtureRequest, lab_lease: Lease, data_pki: Pki,
                data_root: Path) -> Iterator[tuple[str, MailServer]]:
    """One mail server per breaking toggle, as (toggle name, server)."""
    with _mail(MAIL_BROKEN[request.param], lab_lease, data_pki, data_root) as server:
        yield request.param, server


# PostgreSQL variants; each takes two indices (a replica or reader at the second)
PG_SERVERS = {
    "pg15": PgSpec(version=15, short="pg15", replica=True),
    "pg17": PgSpec(version=17, short="pg17", tls=False),
    "pg18": PgSpec(version=18, short="pg18", replica=True, tls_only=True),
    "pg18-self-signed": PgSpec(version=18, short="pg18-ss", self_signed=True),
    "pg18-reader-primary": PgSpec(version=18, short="pg18-rp", reader_primary=True),
}


@pytest.fixture(scope="module")
def pg_servers(lab_lease: Lease, data_pki: Pki,
               data_root: Path) -> Iterator[dict[str, PgServer]]:
    """Every PostgreSQL variant above, started once for the module and always stopped."""
    started: dict[str, PgServer] = {}
    try:
        for key, spec in PG_SERVERS.items():
            server = PgServer(spec, data_root / key, data_pki,
                              index=lab_lease.block(2, key)[0])
            started[key] = server.start()
        yield started
    finally:
        for server in started.values():
            server.stop()
