"""IMAP and SMTP as clacks and the mailer see them, and the inbound round trip (RS-MAIL-*).

Connections go to an *address* (a literal IP, a site host's address, or the name resolved at
the site's resolvers); the configured name travels only in TLS (SNI and certificate
verification). smtplib is given our EHLO name, or it would ask the runner's resolver for its
own (``socket.getfqdn``). Every call has a timeout.

What cannot be reached is :class:`~rs_preflight.gather.probes.Unreachable` (the check's outcome is
*error*); what answers but is wrong (no TLS, a bad certificate, a refused login) is returned as
data, for the judges to fail.

>>> login = imap_login(Server("192.0.2.26", "imap.example.com", 993), "implicit",
...                    tls_context(True, None), "rs@example.com", pw, ["INBOX", "ARCHIVE"])
>>> login.error, login.folders, login.counts
(None, ('ARCHIVE', 'INBOX'), {'INBOX': 3})
"""

from __future__ import annotations

import contextlib
import secrets
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, cast

from imapclient import IMAPClient, imap4
from imapclient import exceptions as imap_errors
from imapclient import tls as imap_tls

from rs_preflight.gather.probes import ProbeError, Unreachable

PROBE_HEADER = "X-RS-Preflight-Probe"


# -- the server ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Server:
    """Connect to ``address``:``port``; ``name`` is what TLS verifies (the configured host)."""

    address: str
    name: str
    port: int

    def __str__(self) -> str:
        addr = f"[{self.address}]" if ":" in self.address else self.address
        shown = addr if self.name == self.address else f"{self.name} ({addr})"
        return f"{shown}:{self.port}"


def tls_context(verify: bool, ca_bundle: Path | None) -> ssl.SSLContext:
    """A client context: verifying (site CA bundle, else the system store) or not at all."""
    ctx = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _unreachable(what: str, server: Server, exc: OSError) -> Unreachable:
    reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
    return Unreachable(f"{what} {server}: {reason}")


def _tls_problem(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not accepted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"no TLS handshake: {exc.reason or exc}"
    return f"no TLS handshake: {type(exc).__name__}: {exc}"


# -- IMAP ---------------------------------------------------------------------------------------
class _PinnedIMAP(imap4.IMAP4WithTimeout):  # type: ignore[misc]
    def __init__(self, server: Server, timeout: float) -> None:
        self._rs_address = server.address
        super().__init__(server.name, server.port, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return socket.create_connection((self._rs_address, self.port), self._timeout)


class _PinnedIMAPTLS(imap_tls.IMAP4_TLS):  # type: ignore[misc]
    def __init__(self, server: Server, ctx: ssl.SSLContext, timeout: float) -> None:
        self._rs_address = server.address
        super().__init__(server.name, server.port, ctx, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = socket.create_connection((self._rs_address, self.port), self._timeout)
        try:
            wrapped: socket.socket = imap_tls.wrap_socket(sock, self.ssl_context, self.host)
            return wrapped
        except BaseException:
            sock.close()
            raise


class PinnedIMAPClient(IMAPClient):  # type: ignore[misc]
    """imapclient's client, connected to ``server.address`` with ``server.name`` in TLS."""

    def __init__(self, server: Server, implicit_tls: bool, ctx: ssl.SSLContext,
                 timeout: float) -> None:
        self._rs_server = server
        super().__init__(server.name, server.port, ssl=implicit_tls, ssl_context=ctx,
                         timeout=timeout)

    def _create_IMAP4(self) -> Any:  # imapclient names it so
        timeout = float(self._timeout.connect)
        if self.ssl:
            return _PinnedIMAPTLS(self._rs_server, self.ssl_context, timeout)
        return _PinnedIMAP(self._rs_server, timeout)


@dataclass
class ImapLogin:
    """What one IMAP session showed. ``stage`` is how far it got: connect < tls < login <
    folders; ``error`` says why it stopped there (None: it got through)."""

    server: str
    tls: str                       # "implicit TLS" | "STARTTLS"
    stage: str = "connect"
    error: str | None = None
    capabilities: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def imap_session(server: Server, tls: str, ctx: ssl.SSLContext, user: str, password: str,
                 timeout: float, record: ImapLogin | None = None) -> Iterator[PinnedIMAPClient]:
    """A logged-in IMAP session (TLS as ``tls``: ``implicit`` or ``starttls``); raises
    ProbeError saying where it stopped, Unreachable when nothing answered. Always closed."""
    rec = record or ImapLogin(str(server), "implicit TLS" if tls == "implicit" else "STARTTLS")
    try:
        client = PinnedIMAPClient(server, tls == "implicit", ctx, timeout)
    except (ssl.SSLError, ssl.CertificateError) as exc:
        rec.stage, rec.error = "tls", _tls_problem(exc)
        raise ProbeError(rec.error) from exc
    except OSError as exc:
        raise _unreachable("IMAP", server, exc) from exc
    except imap_errors.IMAPClientError as exc:
        rec.stage, rec.error = "tls", f"no IMAP greeting: {exc}"
        raise ProbeError(rec.error) from exc
    try:
        try:
            rec.stage = "tls"
            if tls != "implicit":
                caps = {c.decode().upper() for c in client.capabilities()}
                if "STARTTLS" not in caps:
                    rec.error = ("the server does not offer STARTTLS: IMAP would run in "
                                 "clear text")
                    raise ProbeError(rec.error)
                try:
                    client.starttls(ctx)
                except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
                    rec.error = _tls_problem(exc)
                    raise ProbeError(rec.error) from exc
            rec.stage = "login"
            try:
                client.login(user, password)
            except imap_errors.LoginError as exc:
                rec.error = f"login as {user} refused: {_text(exc)}"
                raise ProbeError(rec.error) from exc
            rec.capabilities = tuple(sorted(c.decode().upper()
                                            for c in client.capabilities()))
            rec.stage = "folders"
        except (imap_errors.IMAPClientError, OSError) as exc:
            rec.error = rec.error or f"IMAP failed at {rec.stage}: {type(exc).__name__}: {exc}"
            raise ProbeError(rec.error) from exc
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.logout()
        with contextlib.suppress(Exception):
            client.shutdown()


def _text(exc: BaseException) -> str:
    text = str(exc)
    return text.removeprefix("b'").removesuffix("'") if text.startswith("b'") else text


def imap_login(server: Server, tls: str, ctx: ssl.SSLContext, user: str, password: str,
               wanted: Sequence[str], timeout: float = 10.0) -> ImapLogin:
    """Connect, TLS, log in, list folders and count messages in ``wanted`` folders that exist.

    Returns what was seen (``error`` set if it stopped early); raises Unreachable only.
    """
    rec = ImapLogin(str(server), "implicit TLS" if tls == "implicit" else "STARTTLS")
    try:
        with imap_session(server, tls, ctx, user, password, timeout, rec) as client:
            rec.folders = tuple(sorted(str(f[2]) for f in client.list_folders()))
            for folder in wanted:
                if folder in rec.folders or folder.upper() == "INBOX":
                    status = client.folder_status(folder, ["MESSAGES"])
                    rec.counts[folder] = int(status[b"MESSAGES"])
            rec.stage, rec.error = "done", None
    except Unreachable:
        raise
    except ProbeError:
        pass
    except (imap_errors.IMAPClientError, OSError) as exc:
        rec.error = f"IMAP failed listing folders: {type(exc).__name__}: {exc}"
    return rec


# -- SMTP ---------------------------------------------------------------------------------------
class _Pinned:
    """Mixin: smtplib connects to ``_rs_address``; ``_host`` (the name) stays for TLS."""

    _rs_address: str
    _host: str

    def pin(self, server: Server) -> None:
        self._rs_address = server.address
        self._host = server.name  # smtplib's SNI and certificate name

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(  # type: ignore[misc]
            self._rs_address, port, timeout)
        return sock


class _SMTP(_Pinned, smtplib.SMTP):
    pass


class _SMTPS(_Pinned, smtplib.SMTP_SSL):
    pass


@dataclass
class SmtpSession:
    """What one SMTP submission session showed; ``error`` and ``stage`` as for IMAP."""

    server: str
    tls: str                       # "implicit TLS" | "STARTTLS" | "STARTTLS if offered"
    stage: str = "connect"
    error: str | None = None
    tls_done: bool = False
    auth_before_tls: tuple[str, ...] = ()
    auth_offered: tuple[str, ...] = ()
    auth_mechanism: str | None = None   # what we logged in with (None: no credentials given)


AUTH_MECHANISMS = {"plain": "PLAIN", "login": "LOGIN", "cram_md5": "CRAM-MD5"}


def smtp_tls_for(port: int) -> str:
    """465: implicit TLS; 587: STARTTLS required; 25 (and others): STARTTLS when offered."""
    return {465: "implicit TLS", 587: "STARTTLS"}.get(port, "STARTTLS if offered")


def _auth_list(smtp: smtplib.SMTP) -> tuple[str, ...]:
    return tuple(sorted(smtp.esmtp_features.get("auth", "").upper().split()))


@contextlib.contextmanager
def smtp_session(server: Server, ctx: ssl.SSLContext, helo: str, user: str | None,
                 password: str | None, mechanism: str, timeout: float,
                 record: SmtpSession | None = None) -> Iterator[smtplib.SMTP]:
    """An SMTP session after TLS (as the port implies, EHLO again after STARTTLS) and AUTH
    with ``mechanism`` only (no trying others: failed logins cost penalties). Raises
    ProbeError saying where it stopped, Unreachable when nothing answered. Always closed."""
    rec = record or SmtpSession(str(server), smtp_tls_for(server.port))
    smtp: _SMTP | _SMTPS
    if rec.tls == "implicit TLS":
        smtp = _SMTPS(local_hostname=helo, timeout=timeout, context=ctx)
    else:
        smtp = _SMTP(local_hostname=helo, timeout=timeout)
    smtp.pin(server)
    try:
        try:
            _smtp_connect(smtp, server, rec, ctx)
            _smtp_auth(smtp, rec, user, password, mechanism)
        except smtplib.SMTPException as exc:
            rec.error = rec.error or f"SMTP failed at {rec.stage}: {type(exc).__name__}: {exc}"
            raise ProbeError(rec.error) from exc
        except OSError as exc:
            rec.error = rec.error or f"SMTP connection lost at {rec.stage}: {exc}"
            raise ProbeError(rec.error) from exc
        rec.stage = "ready"
        yield smtp
    finally:
        with contextlib.suppress(Exception):
            smtp.quit()
        smtp.close()


def _smtp_connect(smtp: smtplib.SMTP, server: Server, rec: SmtpSession,
                  ctx: ssl.SSLContext) -> None:
    try:
        smtp.connect(server.address, server.port)
    except (ssl.SSLError, ssl.CertificateError) as exc:
        rec.stage, rec.error = "tls", _tls_problem(exc)
        raise ProbeError(rec.error) from exc
    except OSError as exc:
        raise _unreachable("SMTP", server, exc) from exc
    rec.stage = "tls"
    smtp.ehlo()
    if rec.tls == "implicit TLS":
        rec.tls_done = True
        return
    rec.auth_before_tls = _auth_list(smtp)
    if not smtp.has_extn("starttls"):
        if rec.tls == "STARTTLS":
            rec.error = (f"the server does not offer STARTTLS on port {server.port}: "
                         "mail and credentials would travel in clear text")
            raise ProbeError(rec.error)
        return
    try:
        smtp.starttls(context=ctx)
    except (ssl.SSLError, ssl.CertificateError) as exc:
        rec.error = _tls_problem(exc)
        raise ProbeError(rec.error) from exc
    smtp.ehlo()  # RFC 3207 §4.2: forget what the server said before TLS
    rec.tls_done = True


def _smtp_auth(smtp: smtplib.SMTP, rec: SmtpSession, user: str | None, password: str | None,
               mechanism: str) -> None:
    rec.stage = "auth"
    rec.auth_offered = _auth_list(smtp)
    if not (user and password):
        return
    if not rec.tls_done:
        rec.error = "the server offers no STARTTLS: credentials would travel in clear text"
        raise ProbeError(rec.error)
    mech = AUTH_MECHANISMS.get(mechanism.lower())
    if mech is None:
        rec.error = f"unknown RSERVICE_SMTP_AUTHENTICATION {mechanism!r}"
        raise ProbeError(rec.error)
    if not rec.auth_offered:
        rec.error = "the server offers no AUTH, also not after TLS"
        raise ProbeError(rec.error)
    if mech not in rec.auth_offered:
        rec.error = (f"the server does not offer AUTH {mech} (it offers "
                     f"{' '.join(rec.auth_offered)})")
        raise ProbeError(rec.error)
    smtp.user, smtp.password = user, password
    method = {"PLAIN": smtp.auth_plain, "LOGIN": smtp.auth_login,
              "CRAM-MD5": smtp.auth_cram_md5}[mech]
    try:
        smtp.auth(mech, cast(Any, method), initial_response_ok=mech != "CRAM-MD5")
    except smtplib.SMTPAuthenticationError as exc:
        rec.error = f"AUTH {mech} as {user} refused: {exc.smtp_code} {_reply(exc)}"
        raise ProbeError(rec.error) from exc
    rec.auth_mechanism = mech


def _reply(exc: smtplib.SMTPResponseException) -> str:
    raw = exc.smtp_error
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def smtp_check(server: Server, ctx: ssl.SSLContext, helo: str, user: str | None,
               password: str | None, mechanism: str, timeout: float = 10.0) -> SmtpSession:
    """Connect, TLS, AUTH, QUIT; return what was seen. Raises Unreachable only."""
    rec = SmtpSession(str(server), smtp_tls_for(server.port))
    try:
        with smtp_session(server, ctx, helo, user, password, mechanism, timeout, rec):
            pass
    except Unreachable:
        raise
    except ProbeError:
        pass
    return rec


# -- the inbound round trip (RS-MAIL-06) --------------------------------------------------------
@dataclass
class RoundTrip:
    """How the probe fared. ``stage``: imap < send < wait < verify < done."""

    to: str
    message_id: str
    stage: str = "imap"
    error: str | None = None
    latency_s: float | None = None
    to_header: str | None = None
    cleanup: str = "nothing to delete"


def random_label() -> str:
    return f"rs-preflight-{secrets.token_hex(5)}"


def probe_message(sender: str, to: str, domain: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "rs-preflight inbound routing probe (safe to delete)"
    msg["Message-ID"] = make_msgid("rs-preflight", domain=domain)  # no getfqdn()
    msg[PROBE_HEADER] = "1"
    msg.set_content("A pre-flight check of R-Service sent this message to prove that inbound\n"
                    "mail reaches the clacks folder. It deletes it itself; if you see it, it\n"
                    "arrived after the check gave up waiting and may be deleted.\n")
    return msg


def round_trip(smtp: tuple[Server, ssl.SSLContext, str, str | None, str | None, str],
               imap: tuple[Server, str, ssl.SSLContext, str, str], folder: str,
               msg: EmailMessage, wait_s: float, timeout: float = 10.0,
               poll_s: float = 0.1) -> RoundTrip:
    """Send ``msg`` through SMTP, wait up to ``wait_s`` for it in IMAP ``folder`` (found by its
    own Message-ID), read its ``To``, then delete **only it** — by UID, ``UID STORE +FLAGS
    \\Deleted`` then ``UID EXPUNGE`` — also after a timeout, an error or an interrupt.

    ``smtp``: (server, context, EHLO name, user, password, mechanism); ``imap``: (server,
    "implicit"|"starttls", context, user, password). Raises Unreachable only.
    """
    trip = RoundTrip(str(msg["To"]), str(msg["Message-ID"]))
    try:
        return _round_trip(trip, smtp, imap, folder, msg, wait_s, timeout, poll_s)
    except (imap_errors.IMAPClientError, OSError) as exc:
        raise ProbeError(f"IMAP failed during the round trip at {trip.stage}: "
                         f"{type(exc).__name__}: {exc}; probe {trip.cleanup}") from exc


def _round_trip(trip: RoundTrip, smtp: tuple[Server, ssl.SSLContext, str, str | None,
                                             str | None, str],
                imap: tuple[Server, str, ssl.SSLContext, str, str], folder: str,
                msg: EmailMessage, wait_s: float, timeout: float, poll_s: float) -> RoundTrip:
    mid = trip.message_id
    with imap_session(*imap, timeout=timeout) as client:  # before sending: nothing to miss
        client.select_folder(folder)
        uid: int | None = None
        try:
            trip.stage = "send"
            try:
                with smtp_session(*smtp, timeout=timeout) as session:
                    sent_at = time.monotonic()
                    session.send_message(msg)
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
                trip.error = f"the server refused the recipient {trip.to}: {code} {text}"
                return trip
            except smtplib.SMTPResponseException as exc:
                trip.error = f"the server did not accept the probe: {exc.smtp_code} {_reply(exc)}"
                return trip
            except ProbeError as exc:
                trip.error = f"could not submit the probe: {exc}"
                return trip
            trip.stage = "wait"
            deadline = sent_at + wait_s
            while True:
                client.noop()  # or a selected folder answers from a stale view
                found = client.search(["HEADER", "Message-ID", mid])
                if found:
                    uid = int(found[0])
                    trip.latency_s = round(time.monotonic() - sent_at, 3)
                    break
                if time.monotonic() >= deadline:
                    trip.error = (f"the probe did not arrive in {folder} within {wait_s:g} s")
                    return trip
                time.sleep(poll_s)
            trip.stage = "verify"
            data = client.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (TO)]"])
            row: dict[bytes, Any] = next(iter(data.values()), {})
            raw = row.get(b"BODY[HEADER.FIELDS (TO)]", b"")
            trip.to_header = raw.decode(errors="replace").partition(":")[2].strip() or None
            trip.stage = "done"
            return trip
        finally:
            if uid is None and trip.stage == "wait":  # one last look: it may have just come
                with contextlib.suppress(Exception):
                    client.noop()
                    late = client.search(["HEADER", "Message-ID", mid])
                    uid = int(late[0]) if late else None
            if uid is not None:
                trip.cleanup = _delete_one(client, uid)


def _delete_one(client: PinnedIMAPClient, uid: int) -> str:
    """Delete the message with ``uid`` and nothing else: ``UID STORE +FLAGS (\\Deleted)`` then
    ``UID EXPUNGE`` (RFC 4315). Never a plain EXPUNGE: it removes every message marked
    \\Deleted, also other clients' (clacks marks what it processed)."""
    try:
        client.add_flags([uid], [b"\\Deleted"], silent=True)  # use_uid: this is UID STORE
        if b"UIDPLUS" not in client.capabilities():
            return (f"marked \\Deleted (UID {uid}) but not expunged: the server lacks UIDPLUS "
                    "and a plain EXPUNGE would remove other messages marked \\Deleted")
        client.uid_expunge([uid])
        client.noop()
        if client.search(["UID", str(uid)]):
            return f"the probe (UID {uid}) is still there after UID EXPUNGE"
        return f"deleted (UID {uid}, nothing else)"
    except (imap_errors.IMAPClientError, OSError) as exc:
        return f"could not delete the probe (UID {uid}): {type(exc).__name__}: {exc}"


__all__ = ["AUTH_MECHANISMS", "ImapLogin", "PinnedIMAPClient", "RoundTrip", "Server",
           "SmtpSession", "imap_login", "imap_session", "probe_message",
           "random_label", "round_trip", "smtp_check", "smtp_session", "smtp_tls_for",
           "tls_context"]
