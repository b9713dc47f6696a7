"""RS-PG-*: version, writer rights, TLS mode, reader, Patroni cluster. Pure.

Inputs are what :mod:`rs_preflight.gather.probes.pg` saw (plain values) and Patroni's ``/cluster``
document; outputs are verdicts with expected and found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, error, failed, passed

# Patroni 4.0 renamed "master" to "primary"; /cluster calls the leader "leader" (or
# "standby_leader" in a standby cluster).
LEADER_ROLES = ("leader", "primary", "master", "standby_leader")
# Since Patroni 3.0.4 (patroni#2733) a replica's state is "streaming" when its WAL receiver
# streams; "running" then means PostgreSQL is up but NOT streaming ("in archive recovery" when it
# replays from an archive). PostgreSQL 17/18 need a far newer Patroni, so only "streaming" counts.
REPLICA_STATES = ("streaming",)


def version(num: int | None, text: str | None, supported: Sequence[int], recommended: int,
            who: str = "the writer") -> Verdict:
    """RS-PG-01: the server's major is one of ``supported``."""
    majors = " or ".join(str(m) for m in sorted(supported, reverse=True))
    expected = f"PostgreSQL {majors} ({recommended} recommended)"
    if num is None:
        return error(f"could not read the server version of {who}")
    major = num // 10000
    found = f"PostgreSQL {text or major} (server_version_num {num})"
    if major not in supported:
        return failed(f"{who} runs PostgreSQL {major}, which R-Service does not support",
                      expected, found)
    note = "" if major == recommended else f" (supported; {recommended} is recommended)"
    return passed(f"{who} runs PostgreSQL {text or major}{note}", expected, found)


def writer_rights(user: str, database: str, login_error: str | None, superuser: bool,
                  createdb: bool, db_exists: bool, db_create: bool, public_create: bool
                  ) -> Verdict:
    """RS-PG-02: login works and the role can create what the installer creates."""
    expected = (f"login as {user}; CREATEDB (or superuser), or database {database} exists and "
                f"{user} may create in it (schema public CREATE, or CREATE on the database)")
    if login_error is not None:
        return failed(f"login as {user} failed: {login_error}", expected, login_error)
    if superuser or createdb:
        what = "superuser" if superuser else "CREATEDB"
        return passed(f"{user} logs in and may create databases ({what})", expected,
                      f"{what}; database {database} {'exists' if db_exists else 'absent'}")
    if not db_exists:
        return failed(f"{user} may not create databases and database {database} does not "
                      "exist", expected, f"no CREATEDB, not superuser, no database {database}")
    if public_create or db_create:
        how = "schema public" if public_create else "new schemas (CREATE on the database)"
        return passed(f"{user} logs in and may create in {database}: {how}", expected,
                      f"database {database} exists; CREATE on {how}")
    return failed(f"{user} may neither create databases nor create in {database} (PostgreSQL "
                  "15+ no longer grants CREATE on schema public to everyone)", expected,
                  f"no CREATEDB; no CREATE on database {database} nor on schema public")


def tls_mode(ssl_mode: str, sslmode: str, tls_error: str | None, login_error: str | None,
             ssl_in_use: bool | None, host: str) -> Verdict:
    """RS-PG-03: a connection with the sslmode that DB_SSL_MODE maps to succeeds."""
    needs = {"verify-full": f"TLS, certificate chain trusted and valid for {host}",
             "verify-ca": "TLS, certificate chain trusted",
             "require": "TLS (certificate not checked)",
             "prefer": "TLS if offered", "disable": "no TLS"}[sslmode]
    expected = f"DB_SSL_MODE={ssl_mode} (sslmode={sslmode}): {needs}"
    if tls_error is not None:
        return failed(f"connecting with sslmode={sslmode} failed: {tls_error}", expected,
                      tls_error)
    if login_error is not None:
        return error(f"could not judge TLS: login failed ({login_error}; RS-PG-02)")
    used = "TLS in use" if ssl_in_use else "no TLS"
    return passed(f"sslmode={sslmode} connects ({used})", expected, used)


def reader(writer_major: int | None, reader_major: int | None, in_recovery: bool | None,
           login_error: str | None, user: str, where: str) -> Verdict:
    """RS-PG-04: login works, same major as the writer, and a replica (primary: warning)."""
    expected = f"login as {user} at {where}; PostgreSQL {writer_major}; in recovery (a replica)"
    if login_error is not None:
        return failed(f"reader login as {user} at {where} failed: {login_error}", expected,
                      login_error)
    if reader_major is None or in_recovery is None:
        return error(f"could not read the reader's version and recovery state at {where}")
    if writer_major is not None and reader_major != writer_major:
        return failed(f"the reader runs PostgreSQL {reader_major}, the writer {writer_major}",
                      expected, f"PostgreSQL {reader_major}")
    if not in_recovery:
        return failed(f"the reader at {where} is a primary (pg_is_in_recovery() is false): it "
                      "will not follow the writer's data", expected,
                      f"PostgreSQL {reader_major}, not in recovery", severity="warning")
    return passed(f"the reader at {where} is a replica running PostgreSQL {reader_major}",
                  expected, f"PostgreSQL {reader_major}, in recovery")


def patroni_cluster(doc: Mapping[str, Any], min_members: int, where: str) -> Verdict:
    """RS-PG-05: >= ``min_members`` members, exactly one leader, the others streaming."""
    members = [m for m in doc.get("members") or [] if isinstance(m, Mapping)]
    leaders = [m for m in members if str(m.get("role", "")).lower() in LEADER_ROLES]
    replicas = [m for m in members if m not in leaders]
    lagging = [m for m in replicas if str(m.get("state", "")).lower() not in REPLICA_STATES]
    down = [m for m in leaders if str(m.get("state", "")).lower() != "running"]
    desc = ", ".join(f"{m.get('name')}: {m.get('role')}/{m.get('state')}" for m in members)
    expected = f">= {min_members} members, one leader, the others streaming replicas"
    found = f"{len(members)} member(s): {desc or 'none'}"
    problems = []
    if len(members) < min_members:
        problems.append(f"{len(members)} member(s), at least {min_members} needed")
    if len(leaders) != 1:
        problems.append(f"{len(leaders)} leader(s)")
    if down:
        problems.append("leader not running: " + ", ".join(
            f"{m.get('name')} ({m.get('state')})" for m in down))
    if lagging:
        problems.append("not streaming: " + ", ".join(
            f"{m.get('name')} ({m.get('state')})" for m in lagging))
    if problems:
        return failed(f"Patroni cluster at {where}: " + "; ".join(problems), expected, found)
    return passed(f"Patroni cluster at {where}: {found}", expected, found)


__all__ = ["LEADER_ROLES", "patroni_cluster", "reader", "tls_mode", "version", "writer_rights"]
