"""A product's data services and status page as their clients see them (seeds/003's service
table and /status page, seeds/004's PostgreSQL with plv8, MongoDB, Redis and RabbitMQ,
seeds/001's RabbitMQ cluster).

Glue only: the service is asked in its own protocol (:mod:`rs_preflight.gather.probes.services`)
at the host's address — or, for one on the host's loopback (``address: 127.0.0.1``), through the
host's SSH connection (:mod:`rs_preflight.gather.tunnel`) — with the login the site's settings
give; judged by :mod:`rs_preflight.judge.services`, :mod:`rs_preflight.judge.status` and
:mod:`rs_preflight.judge.rabbitmq`.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

from rs_preflight.gather.probes import ProbeError, http
from rs_preflight.gather.probes import services as probe
from rs_preflight.gather.probes.records import RabbitView
from rs_preflight.gather.probes.where import address_for
from rs_preflight.gather.tunnel import forward, ssh_transport
from rs_preflight.judge import rabbitmq
from rs_preflight.judge import services as judge
from rs_preflight.judge.status import status_page
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict, error


def _timeout(rs: Target) -> float:
    return float(rs.params.get("timeout", 5))


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


@contextlib.contextmanager
def _reach(rs: Target, address: str, port: int) -> Iterator[tuple[str, int]]:
    """Where the runner connects to reach ``address:port`` as the host sees it."""
    assert rs.host is not None
    if not _loopback(address) or rs.host.connection == "local":
        yield address, port
        return
    if rs.host.connection != "ssh":
        raise ProbeError(f"{address}:{port} is on {rs.host.name}'s loopback, reached only "
                         f"through SSH (this host's connection: {rs.host.connection})")
    transport = ssh_transport(rs.state.connections.get(rs.host))
    with forward(transport, address, port, _timeout(rs)) as local:
        yield local


def _where(rs: Target, address: str, port: int) -> str:
    assert rs.host is not None
    shown = probe.endpoint(address, port)
    return f"{shown} on {rs.host.name}" if _loopback(address) else shown


@pytest.mark.kind("service_answers")
def test_service_answers(rs: Target) -> Verdict:
    assert rs.host is not None
    p: dict[str, Any] = dict(rs.params)
    address, port, protocol = str(p.get("address") or rs.host.address), int(p["port"]), \
        str(p["protocol"])
    where, version = _where(rs, address, port), p.get("version")
    try:
        with _reach(rs, address, port) as (to, to_port):
            got = probe.ask(protocol, to, to_port, _timeout(rs), rs.setting("user_setting"),
                            rs.setting("password_setting"), rs.setting("database_setting"))
    except probe.LoginRefused as exc:
        return error(f"{exc} (the login comes from the site's settings: "
                     f"{p.get('user_setting', '-')}/{p.get('password_setting', '-')})")
    except ProbeError as exc:
        return judge.not_answered(protocol, where, str(exc), version)
    return judge.answered(protocol, where, got.version, got.detail, version)


@pytest.mark.kind("pg_extensions_available")
def test_pg_extensions(rs: Target) -> Verdict:
    assert rs.host is not None
    port = int(rs.params.get("port", 5432))
    where = probe.endpoint(rs.host.address, port)
    try:
        _, found = probe.postgresql(rs.host.address, port, _timeout(rs),
                                    rs.setting("user_setting"),
                                    rs.setting("password_setting"),
                                    rs.setting("database_setting"), rs.params["extensions"])
    except ProbeError as exc:
        return error(f"cannot read pg_available_extensions: {exc}")
    return judge.extensions_available(found, where)


@pytest.mark.kind("status_page")
def test_status_page(rs: Target) -> Verdict:
    assert rs.host is not None
    if not rs.host.names:
        return error(f"{rs.host.name} lists no names: the status page is asked at "
                     f"https://<the host's first name>{rs.params['path']} (hosts.*.names)")
    url = f"{rs.params.get('scheme', 'https')}://{rs.host.names[0]}{rs.params['path']}"
    try:
        answer = rs.state.probe(("http", url, rs.host.address), functools.partial(
            http.get, rs.host.address, url, timeout=_timeout(rs)), at=rs.host.address)
    except ProbeError as exc:
        return error(f"the status page did not answer: {exc}")
    return status_page(answer.status, rs.site.redactor(answer.text),
                       rs.params["expect"], url)


@pytest.mark.kind("rabbitmq_queue_depth")
def test_queue_depths(rs: Target) -> Verdict:
    assert rs.host is not None
    port = int(rs.params.get("management_port", 15672))
    bounds = [(str(q["vhost"]), str(q["queue"]), int(q["max"])) for q in rs.params["queues"]]
    found: dict[str, dict[str, int]] = {}
    try:
        for vhost in dict.fromkeys(v for v, _, _ in bounds):
            found[vhost] = probe.rabbitmq_queues(
                rs.host.address, port, vhost, rs.setting("user_setting"),
                rs.setting("password_setting"), _timeout(rs))
    except ProbeError as exc:
        return error(f"cannot read the queues: {exc}")
    return judge.queue_depths(bounds, found)


@pytest.mark.kind("systemd_active")
def test_units_active(rs: Target) -> Verdict:
    return judge.units_active(rs.facts.get("systemd_units"), rs.params["units"])


@pytest.mark.kind("rabbitmq_cluster")
def test_rabbitmq_cluster(rs: Target) -> Verdict:
    """Each role host's management API, once per run; one that does not answer is tolerated
    while another answers for its node (``judge.rabbitmq``)."""
    port, timeout = int(rs.params["management_port"]), float(rs.params.get("timeout_s", 5))
    hosts = rs.site.hosts_with(str(rs.params["role"]))
    seen: dict[str, RabbitView | str] = {}
    for host in hosts:
        try:
            address = address_for(rs.site, host.name, rs.state.dns)
            seen[host.name] = rs.state.probe(
                ("rabbitmq", "view", address, port),
                functools.partial(probe.rabbitmq_view, address, port,
                                  rs.setting("user_setting"), rs.setting("password_setting"),
                                  timeout), at=probe.endpoint(address, port))
        except probe.LoginRefused as exc:
            seen[host.name] = (f"{exc} (the login comes from the site's settings "
                               f"{rs.params.get('user_setting', '-')}/"
                               f"{rs.params.get('password_setting', '-')})")
        except ProbeError as exc:
            seen[host.name] = str(exc)
    return rabbitmq.cluster(hosts, seen)
