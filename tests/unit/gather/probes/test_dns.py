"""DNS probes: the PTR question is asked of the address's reverse name, and a resolver that
does not answer is a result with its reason, never an exception (real sockets, loopback only:
the answers themselves are proven against BIND in tests/lab/test_voip_net.py)."""

from __future__ import annotations

import socket

import dns.resolver

from rs_preflight.gather.probes import dns as probe
from rs_preflight.gather.probes.records import ERROR


def silent_resolver() -> dns.resolver.Resolver:
    """A resolver pointed at a loopback port nobody listens on (found free, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = resolver.lifetime = 0.5
    return resolver


def test_reverse_asks_the_ptr_of_the_reverse_name_and_reports_silence() -> None:
    got = probe.reverse(silent_resolver(), "fd75:9fac:a7b1:92:6c::901")
    assert got.name == ("1.0.9.0.0.0.0.0.0.0.0.0.c.6.0.0.2.9.0.0.1.b.7.a.c.a.f.9.5.7.d.f"
                        ".ip6.arpa")
    assert (got.rdtype, got.status, got.values) == ("PTR", ERROR, ())
    assert got.detail
    assert probe.reverse(silent_resolver(), "192.0.2.7").name == "7.2.0.192.in-addr.arpa"
