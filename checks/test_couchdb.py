"""CouchDB on the database servers (seeds/001, "Базы данных"): its version on each, and the
replication between them, both ways.

Glue only. Plain HTTP from the runner to each host's address (``probes.where``: never the
runner's resolver) on the catalogue's port, with the login the site's settings give
(``user_setting``/``password_setting``); each server asked once per run (``rs.state.probe``).
Read by :mod:`rs_preflight.gather.probes.couchdb`, judged by :mod:`rs_preflight.judge.couchdb`.
"""

from __future__ import annotations

import functools

import pytest

from rs_preflight.gather.probes import ProbeError
from rs_preflight.gather.probes import couchdb as probe
from rs_preflight.gather.probes.records import Replications
from rs_preflight.gather.probes.services import LoginRefused, endpoint
from rs_preflight.gather.probes.where import address_for
from rs_preflight.judge import couchdb as judge
from rs_preflight.model import Target
from rs_preflight.spec.hosts import Host
from rs_preflight.spec.results import Verdict, error


def _login(rs: Target) -> probe.Login:
    user = rs.setting("user_setting")
    return (user, rs.setting("password_setting") or "") if user else None


def _refused(rs: Target, exc: ProbeError) -> str:
    """A 401's message, naming the settings the login comes from (never their values)."""
    names = [str(rs.params[k]) for k in ("user_setting", "password_setting") if k in rs.params]
    given = [n for n in names if rs.settings().get(n) is not None]
    if not names:
        return f"{exc}: the server wants a login, and this requirement names no settings for it"
    said = ", ".join(f"{n} ({'set' if n in given else 'not set'})" for n in names)
    return f"{exc}: the login comes from the site's settings {said}"


def _ask(rs: Target, host: Host, what: str) -> object:
    """``root`` or ``replications`` of ``host``'s server, once per run."""
    port, timeout = int(rs.params["port"]), float(rs.params.get("timeout_s", 5))
    address = address_for(rs.site, host.name, rs.state.dns)
    ask = probe.root if what == "root" else probe.replications
    return rs.state.probe(("couchdb", what, address, port), functools.partial(
        ask, address, port, timeout=timeout, login=_login(rs)), at=endpoint(address, port))


@pytest.mark.kind("couchdb_version")
def test_couchdb_version(rs: Target) -> Verdict:
    assert rs.host is not None
    where = endpoint(rs.host.address, int(rs.params["port"]))
    try:
        root = _ask(rs, rs.host, "root")
    except LoginRefused as exc:
        return error(_refused(rs, exc))
    except ProbeError as exc:
        return error(f"CouchDB did not answer: {exc}")
    assert isinstance(root, dict)
    return judge.version(root, where, str(rs.params["min"]))


@pytest.mark.kind("couchdb_replication")
def test_couchdb_replication(rs: Target) -> Verdict:
    hosts = rs.site.hosts_with(str(rs.params["role"]))
    seen: dict[str, Replications | str] = {}
    for host in hosts:
        try:
            got = _ask(rs, host, "replications")
            assert isinstance(got, Replications)
            seen[host.name] = got
        except LoginRefused as exc:
            seen[host.name] = _refused(rs, exc)
        except ProbeError as exc:
            seen[host.name] = str(exc)
    return judge.replication(hosts, seen)
