"""The gather helpers every network check shares: where to connect (``probes.where``), the
retry while a load balancer settles (``http.until_settled``), and ``http.get`` telling an
address that accepts nothing (Unreachable: the run's probe cache then spares the other names
there) from one that answered badly. Real sockets and a real HTTP server on loopback."""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from rs_preflight.gather.probes import ProbeError, Unreachable, http
from rs_preflight.gather.probes.records import Upgrade
from rs_preflight.gather.probes.where import address_for, lb_addresses
from rs_preflight.spec.dnsnames import web_names
from rs_preflight.spec.site import Host, Site

LOOPBACK = "127.0.0.1"


def site(**kw: object) -> Site:
    hosts = (Host(name="db1", address="192.0.2.21", roles=("db",)),
             Host(name="app1", address="app1.internal", roles=("app",)))
    return Site(name="t", file=None, hosts=hosts, **kw)  # type: ignore[arg-type]


# -- where to connect ----------------------------------------------------------------------------
def test_a_literal_address_is_used_as_it_is() -> None:
    assert address_for(site(), " 192.0.2.7 ") == "192.0.2.7"
    assert address_for(site(), "[2001:db8::1]") == "2001:db8::1"


def test_a_site_host_is_its_address() -> None:
    assert address_for(site(), "db1") == "192.0.2.21"
    assert address_for(site(), "192.0.2.21") == "192.0.2.21"


def test_a_name_without_site_resolvers_is_never_resolved_by_the_runner() -> None:
    with pytest.raises(ProbeError, match=r"no dns\.resolvers"):
        address_for(site(), "localhost")
    with pytest.raises(ProbeError, match=r"app1\.internal is a name"):
        address_for(site(), "app1")  # the host's address is a name: the same rule


def test_web_names_go_to_the_load_balancer_addresses_when_the_site_gives_them() -> None:
    assert lb_addresses(site(lb_addresses=("192.0.2.10", "192.0.2.11")), "api.x") == \
        ["192.0.2.10", "192.0.2.11"]
    assert lb_addresses(site(), "api.x") == []  # no LB addresses, no resolvers: nowhere


def test_web_names_are_the_apex_a_tenant_and_the_predetermined_names() -> None:
    names = web_names({"ITRP_API_SUBDOMAIN": "rest"}, "rs.example.com", "t-1")
    assert names[:3] == ["rs.example.com", "t-1.rs.example.com", "rest.rs.example.com"]
    assert "realtime.rs.example.com" in names and len(names) == len(set(names))


# -- http.get: unreachable or a bad answer ------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def test_a_refused_connection_is_unreachable() -> None:
    port = free_port()
    with pytest.raises(Unreachable, match=f"at {LOOPBACK}"):
        http.get(LOOPBACK, f"http://rs.example.com:{port}/", timeout=2)


def test_a_connection_closed_without_an_answer_is_not_unreachable() -> None:
    with socket.socket() as server:
        server.bind((LOOPBACK, 0))
        server.listen()
        port = server.getsockname()[1]

        def close_one() -> None:
            conn, _ = server.accept()
            conn.close()

        t = threading.Thread(target=close_one)
        t.start()
        with pytest.raises(ProbeError) as got:
            http.get(LOOPBACK, f"http://rs.example.com:{port}/", timeout=2)
        t.join(5)
    assert not isinstance(got.value, Unreachable)


# -- until_settled ------------------------------------------------------------------------------
class Gateway(BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` requests (a load balancer whose backend is still
    marked down), then 200."""

    failures = 0
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        status = 503 if len(type(self).seen) <= type(self).failures else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def gateway() -> Iterator[tuple[type[Gateway], int]]:
    handler = type("Handler", (Gateway,), {"failures": 3, "seen": []})
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield handler, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_gateway_error_is_retried_while_the_load_balancer_settles(
        gateway: tuple[type[Gateway], int]) -> None:
    handler, port = gateway
    get = functools.partial(http.get, LOOPBACK, f"http://rs.example.com:{port}/echo", timeout=2)
    answer = http.until_settled(get, lambda: True, pause=0.01)
    assert answer.status == 200
    assert len(handler.seen) == 4  # three 503s, then the answer


def test_a_gateway_error_is_the_answer_once_settling_is_over(
        gateway: tuple[type[Gateway], int]) -> None:
    handler, port = gateway
    get = functools.partial(http.get, LOOPBACK, f"http://rs.example.com:{port}/echo", timeout=2)
    assert http.until_settled(get, lambda: False, pause=0.01).status == 503
    assert len(handler.seen) == 1
    settling = iter([True, False])  # the settle time ends after the first retry
    assert http.until_settled(get, lambda: next(settling), pause=0.01).status == 503
    assert len(handler.seen) == 3


def test_until_settled_takes_any_answer_with_a_status() -> None:
    answers = iter([Upgrade(False, 502, "answered 502"), Upgrade(True, 101, "switched")])
    assert http.until_settled(lambda: next(answers), lambda: True, pause=0).switched


def test_an_error_is_not_retried() -> None:
    calls = []

    def refused() -> Upgrade:
        calls.append(1)
        raise Unreachable("WebSocket to rt at 192.0.2.10:443: refused")

    with pytest.raises(Unreachable):
        http.until_settled(refused, lambda: True, pause=0)
    assert calls == [1]
