"""RS-PG-*: PostgreSQL version, writer login and rights, TLS mode, reader, Patroni (§9.5).

Glue only. One login per role and server for the run (``rs.state.probe``), from the runner, to
the address of ``DB_WRITER_HOST`` (literal, a site host, or the site's resolvers:
:mod:`rs_preflight.gather.probes.where`) with the name for ``verify-full``; judged by
:mod:`rs_preflight.judge.pg`. That app and job hosts reach the port is RS-PORT-01's flow check.
"""

from __future__ import annotations

import json

import pytest

from rs_preflight.gather.probes import ProbeError, http
from rs_preflight.gather.probes import pg as probe
from rs_preflight.gather.probes.where import address_for
from rs_preflight.judge import pg as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict, error, skipped


def _s(rs: Target) -> dict[str, str]:
    return {k: v.value for k, v in rs.settings().items()}


def _side(s: dict[str, str], side: str) -> dict[str, str]:
    """DB_<SIDE>_* with the writer's values as defaults for the reader."""
    keys = ("HOST", "PORT", "USERNAME", "PASSWORD", "DATABASE")
    out = {k: s.get(f"DB_WRITER_{k}", "") for k in keys}
    if side == "READER":
        out.update({k: s[f"DB_READER_{k}"] for k in keys if s.get(f"DB_READER_{k}")})
    out["PORT"] = out["PORT"] or "5432"
    return out


def _survey(rs: Target, side: str) -> probe.Seen | Verdict:
    """The run's login as ``side`` (WRITER, READER): every RS-PG check judges the same one."""
    s = _s(rs)
    conf = _side(s, side)
    if not (conf["HOST"] and conf["USERNAME"]):
        return skipped("DB_WRITER_HOST/DB_WRITER_USERNAME not set (RS-ENV-01 reports it)")

    def survey() -> probe.Seen:
        sslmode = probe.sslmode_for(s.get("DB_SSL_MODE"))
        if not conf["PORT"].isdigit():
            raise ProbeError(f"DB_{side}_PORT {conf['PORT']!r} is not a port number")
        address = address_for(rs.site, conf["HOST"], rs.state.dns)
        ep = probe.Endpoint(address, conf["HOST"].strip(), int(conf["PORT"]))
        return probe.survey(ep, conf["DATABASE"] or "postgres", conf["USERNAME"],
                            conf["PASSWORD"], sslmode, rs.site.tls_ca_bundle,
                            float(rs.params.get("timeout", 5)))

    try:
        return rs.state.probe(("pg", side), survey)
    except ProbeError as exc:
        return error(f"{exc} (from the runner)")


@pytest.mark.kind("pg_version")
def test_postgres_version(rs: Target) -> Verdict:
    got = _survey(rs, "WRITER")
    if isinstance(got, Verdict):
        return got
    if got.login_error:
        return error(f"could not read the version: login failed ({got.login_error}; RS-PG-02)")
    t = rs.params
    return judge.version(got.version_num, got.version, t["supported_majors"],
                         t["recommended_major"])


@pytest.mark.kind("pg_writer_rights")
def test_writer_rights(rs: Target) -> Verdict:
    got = _survey(rs, "WRITER")
    if isinstance(got, Verdict):
        return got
    conf = _side(_s(rs), "WRITER")
    r = got.rights
    return judge.writer_rights(conf["USERNAME"], conf["DATABASE"] or "postgres",
                               got.login_error, bool(r and r.superuser),
                               bool(r and r.createdb), bool(r and r.database_exists),
                               bool(r and r.database_create), bool(r and r.public_create))


@pytest.mark.kind("pg_tls")
def test_database_tls(rs: Target) -> Verdict:
    got = _survey(rs, "WRITER")
    if isinstance(got, Verdict):
        return got
    mode = (_s(rs).get("DB_SSL_MODE") or probe.DEFAULT_SSL_MODE).strip().upper()
    return judge.tls_mode(mode, got.sslmode, got.tls_error, got.login_error, got.ssl_in_use,
                          _side(_s(rs), "WRITER")["HOST"])


@pytest.mark.kind("pg_reader")
def test_reader(rs: Target) -> Verdict:
    s = _s(rs)
    writer, reader = _side(s, "WRITER"), _side(s, "READER")
    if not s.get("DB_READER_HOST"):
        return skipped("DB_READER_HOST is not set: R-Service reads from the writer")
    if reader == writer:
        return skipped("DB_READER_* name the writer itself: no separate reader to check")
    got = _survey(rs, "READER")
    if isinstance(got, Verdict):
        return got
    wrote = _survey(rs, "WRITER")
    writer_major = wrote.major if isinstance(wrote, probe.Seen) else None
    return judge.reader(writer_major, got.major, got.in_recovery,
                        got.login_error or got.tls_error, reader["USERNAME"], got.endpoint)


@pytest.mark.kind("pg_patroni")
def test_patroni_cluster(rs: Target) -> Verdict:
    t = rs.params
    if rs.site.profile not in t["profiles"]:
        return skipped(f"profile {rs.site.profile}: one PostgreSQL server is enough (a Patroni "
                       f"cluster is for {'/'.join(t['profiles'])}, guide §8.3)")
    hosts = [h.address for h in rs.site.hosts_with("db")]
    writer = _s(rs).get("DB_WRITER_HOST")
    if not hosts and writer:
        hosts = [writer]
    if not hosts:
        return skipped("no db host in the site and DB_WRITER_HOST not set")
    port, timeout = int(t.get("patroni_port", 8008)), float(t.get("timeout", 5))
    problems = []
    for host in hosts:
        try:
            address = address_for(rs.site, host, rs.state.dns)
            answer = http.get(address, f"http://{host}:{port}/cluster", timeout=timeout)
        except ProbeError as exc:
            problems.append(str(exc))
            continue
        if answer.status != 200:
            problems.append(f"{host}:{port}/cluster answered {answer.status}")
            continue
        try:
            doc = json.loads(answer.body)
        except ValueError:
            problems.append(f"{host}:{port}/cluster did not answer JSON")
            continue
        return judge.patroni_cluster(doc, int(t["min_members"]), f"{host}:{port}")
    return error("no Patroni REST API answered: " + "; ".join(problems))
