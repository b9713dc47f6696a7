"""PostgreSQL as R-Service connects to it (RS-PG-*): psycopg, address pinned, name for TLS.

libpq is given ``hostaddr=<ip>`` (where it connects) and ``host=<name>`` (what ``verify-full``
checks the certificate against), so it never resolves a name itself. ``sslrootcert`` only for
``verify-*``: with a root file present libpq makes ``require`` behave like ``verify-ca``.
``DB_SSL_MODE`` maps to ``sslmode`` as the guide defines it (default VERIFY_IDENTITY).

A login that fails for a TLS reason is retried once with ``sslmode=prefer`` and
``require_auth=!password`` (never a clear-text password) so that version and rights can still
be judged while RS-PG-03 fails.

>>> seen = survey(Endpoint("192.0.2.41", "db1.example.com", 5432), "rservice", user, pw,
...               "verify-full", Path("corp-ca.pem"))
>>> seen.version_num, seen.ssl_in_use, seen.rights.createdb
(180004, True, True)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.probes.mail import Server as Endpoint

SSL_MODES = {"DISABLED": "disable", "PREFERRED": "prefer", "REQUIRED": "require",
             "VERIFY_CA": "verify-ca", "VERIFY_IDENTITY": "verify-full"}
DEFAULT_SSL_MODE = "VERIFY_IDENTITY"

# libpq's words for "TLS was the problem" (fe-secure-openssl.c, fe-connect.c)
TLS_WORDS = ("ssl", "certificate", "tls", "does not match host name")
AUTH_WORDS = ("password authentication failed", "authentication failed", "no pg_hba.conf entry",
              "role \"", "is not permitted to log in")
UNREACHABLE_WORDS = ("connection refused", "timeout expired", "timed out", "no route to host",
                     "network is unreachable", "could not connect")


@dataclass(frozen=True)
class Rights:
    superuser: bool
    createdb: bool
    database_exists: bool
    database_create: bool       # has_database_privilege(db, 'CREATE'): may create schemas
    public_create: bool         # has_schema_privilege('public', 'CREATE')


@dataclass(frozen=True)
class Seen:
    """One PostgreSQL server as seen by one role. ``login_error``/``tls_error`` say what went
    wrong with the configured mode; ``fallback`` says the facts came from the retry."""

    endpoint: str
    sslmode: str
    version_num: int | None = None
    version: str | None = None
    ssl_in_use: bool | None = None
    in_recovery: bool | None = None
    rights: Rights | None = None
    tls_error: str | None = None
    login_error: str | None = None
    fallback: bool = False

    @property
    def major(self) -> int | None:
        return self.version_num // 10000 if self.version_num else None


def sslmode_for(value: str | None) -> str:
    """libpq's sslmode for R-Service's DB_SSL_MODE (raises ProbeError on an unknown one)."""
    key = (value or DEFAULT_SSL_MODE).strip().upper()
    if key not in SSL_MODES:
        raise ProbeError(f"DB_SSL_MODE {value!r} is not one of {', '.join(SSL_MODES)} "
                         "(RS-ENV-04 reports it)")
    return SSL_MODES[key]


def _conninfo(ep: Endpoint, dbname: str, user: str, password: str, sslmode: str,
              rootcert: Path | None, timeout: float, fallback: bool) -> str:
    extra: dict[str, str] = {}
    if rootcert and sslmode.startswith("verify"):
        extra["sslrootcert"] = str(rootcert)
    elif sslmode == "verify-full":
        extra["sslrootcert"] = "system"  # libpq 16+: the system store (verify-full only)
    if fallback:
        extra["require_auth"] = "!password"  # SCRAM or MD5 only: never the password in clear
    return make_conninfo(hostaddr=ep.address, host=ep.name, port=ep.port, dbname=dbname,
                         user=user, password=password, sslmode=sslmode,
                         connect_timeout=max(2, int(timeout)), application_name="rs-preflight",
                         **extra)


def _kind(message: str) -> str:
    low = message.lower()
    if "no encryption" in low:  # pg_hba has only hostssl lines for us: TLS is required
        return "tls"
    if any(w in low for w in AUTH_WORDS):
        return "auth"
    if any(w in low for w in TLS_WORDS):
        return "tls"
    if "does not exist" in low and "database" in low:
        return "nodb"
    if any(w in low for w in UNREACHABLE_WORDS):
        return "unreachable"
    return "other"


def _message(exc: psycopg.Error, password: str) -> str:
    text = " ".join(str(exc).split())
    return text.replace(password, "<redacted>") if password else text


def _connect(ep: Endpoint, dbname: str, user: str, password: str, sslmode: str,
             rootcert: Path | None, timeout: float, fallback: bool = False
             ) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_conninfo(ep, dbname, user, password, sslmode, rootcert, timeout,
                                     fallback), autocommit=True)


def _facts(conn: psycopg.Connection[tuple[object, ...]], dbname: str, db_exists: bool
           ) -> tuple[int, str, bool, bool, Rights]:
    row = conn.execute(
        "SELECT current_setting('server_version_num')::int, current_setting('server_version'),"
        " pg_is_in_recovery(), r.rolsuper, r.rolcreatedb,"
        " has_database_privilege(current_database(), 'CREATE'),"
        " COALESCE(has_schema_privilege('public', 'CREATE'), false)"
        " FROM pg_roles r WHERE r.rolname = current_user").fetchone()
    if row is None:
        raise ProbeError("the server did not describe the current role")
    num, ver, recovery, superuser, createdb, db_create, public_create = row
    if not db_exists:
        db_create = public_create = False
    return (int(str(num)), str(ver), bool(recovery), conn.info.pgconn.ssl_in_use,
            Rights(bool(superuser), bool(createdb), db_exists, bool(db_create),
                   bool(public_create)))


def survey(ep: Endpoint, dbname: str, user: str, password: str, sslmode: str,
           rootcert: Path | None, timeout: float = 5.0) -> Seen:
    """Log in as ``user`` with ``sslmode``; read version, recovery state, TLS use and rights.

    The database may not exist yet before installation: then the role is surveyed from the
    ``postgres`` database. Raises Unreachable when nothing answers.
    """
    base = Seen(str(ep), sslmode)
    tls_error = None
    attempts = [(sslmode, False)]
    for mode, fallback in attempts:
        for db in (dbname, "postgres"):
            try:
                conn = _connect(ep, db, user, password, mode, rootcert, timeout, fallback)
            except psycopg.Error as exc:
                text = _message(exc, password)
                kind = _kind(text)
                if kind == "nodb" and db == dbname:
                    continue
                if kind == "unreachable":
                    raise Unreachable(f"PostgreSQL {ep}: {text}") from exc
                if kind == "tls" and not fallback:
                    tls_error = text
                    attempts.append(("prefer", True))
                    break
                return Seen(base.endpoint, sslmode, tls_error=tls_error,
                            login_error=text if kind != "tls" else None, fallback=fallback)
            with contextlib.closing(conn):
                try:
                    num, ver, recovery, ssl_used, rights = _facts(conn, dbname, db == dbname)
                except psycopg.Error as exc:
                    raise ProbeError(f"PostgreSQL {ep}: {_message(exc, password)}") from exc
            return Seen(base.endpoint, sslmode, num, ver, ssl_used, recovery, rights,
                        tls_error, None, fallback)
    return Seen(base.endpoint, sslmode, tls_error=tls_error,
                login_error="TLS failed and so did the retry without verification")


__all__ = ["DEFAULT_SSL_MODE", "SSL_MODES", "Endpoint", "Rights", "Seen", "sslmode_for",
           "survey"]
