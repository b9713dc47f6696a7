"""A dead resolver is one error, found once: the health probe, the judges that tell "could not
resolve" from "wrong", and the host-side flow probe's "did not resolve" state."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from typing import Any

import pytest
from dns import query as dns_query

from rs_preflight.gather import names
from rs_preflight.gather.facts.network import _flows, by_flow
from rs_preflight.judge import env, ports
from rs_preflight.spec.envfile import EnvValue
from rs_preflight.spec.matrix import Flow
from rs_preflight.spec.results import ERROR, FAILED, PASSED
from rs_preflight.spec.site import default_site


def _vars(**kw: str) -> dict[str, EnvValue]:
    return {k: EnvValue(k, v, f".env:{i}") for i, (k, v) in enumerate(kw.items(), 1)}


def test_consistency_cannot_tell_is_an_error_not_a_failure() -> None:
    values = _vars(FAYE_URL="https://realtime.rs.example.com", DB_WRITER_HOST="db.rs.example.com")
    got = env.consistency(values, "rs.example.com", lambda _: None, "resolvers 192.0.2.53 down")
    assert got.outcome == ERROR
    assert "cannot tell" in got.message and "DB_WRITER_HOST=db.rs.example.com" in got.message
    assert "resolvers 192.0.2.53 down" in got.message
    assert env.consistency(values, "rs.example.com", lambda _: False).outcome == FAILED
    assert env.consistency(values, "rs.example.com", lambda _: True).outcome == PASSED


def test_something_definitely_wrong_still_fails_when_names_cannot_be_told() -> None:
    values = _vars(FAYE_URL="http://realtime.rs.example.com", DB_WRITER_HOST="db.rs.example.com")
    assert env.consistency(values, "rs.example.com", lambda _: None).outcome == FAILED


FLOWS = [Flow("db writer", "app1", "db1.rs.example.com", 5432, "DB_WRITER_HOST"),
         Flow("search", "app1", "192.0.2.30", 9200, "role search")]
TO = "TO 0 5432 db1.rs.example.com\nTO 1 9200 192.0.2.30\n"  # which destination each index is


def _probes(text: str) -> dict[int, Any]:
    """The flows section's output for FLOWS, as the network matrix check reads it."""
    return by_flow(FLOWS, _flows(0, TO + text))


def test_a_flow_whose_name_did_not_resolve_on_its_host_is_an_error_saying_so() -> None:
    probes = _probes("FLOW 0 R124 3004\nERR 0 \nFLOW 1 0 2\nERR 1 ")
    assert probes[0]["state"] == "unresolved" and probes[1]["state"] == "open"
    got = ports.flows(FLOWS, probes, 3)
    assert got.outcome == ERROR
    assert "db1.rs.example.com did not resolve on app1 (its resolver did not answer within 3 s)" \
        in got.message
    assert "filtered" not in got.message
    nxdomain = ports.flows(FLOWS, _probes("FLOW 0 R2 10\nERR 0 \nFLOW 1 0 2\nERR 1 "), 3)
    assert "the name does not resolve on the host" in nxdomain.message


def test_a_blocked_flow_still_fails_beside_an_unresolved_one() -> None:
    got = ports.flows(FLOWS, _probes("FLOW 0 R124 3004\nERR 0 \nFLOW 1 124 3000\nERR 1 "), 3)
    assert got.outcome == FAILED
    assert "filtered" in got.message and "not probed" in got.message


@pytest.fixture
def silent_resolver() -> tuple[str, socket.socket]:
    """A UDP socket on loopback that receives DNS queries and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return "127.0.0.1", sock


def test_health_probe_finds_a_silent_resolver_once_and_quickly(
        monkeypatch: pytest.MonkeyPatch, silent_resolver: tuple[str, socket.socket]) -> None:
    address, sock = silent_resolver
    port = sock.getsockname()[1]
    real_udp = dns_query.udp
    calls: list[str] = []

    def udp(query: object, where: str, timeout: float) -> object:  # the silent socket's port
        calls.append(where)
        return real_udp(query, where, timeout=timeout, port=port)  # type: ignore[arg-type]

    monkeypatch.setattr(dns_query, "udp", udp)
    site = dataclasses.replace(default_site(), dns_resolvers=(address,))
    dns = names.SiteDns(site)
    t = time.monotonic()
    down = dns.down()
    assert down is not None and down.startswith(f"the site's DNS resolvers {address} do not answer")
    assert time.monotonic() - t < 2 * names.HEALTH_ATTEMPTS * names.HEALTH_TIMEOUT_S
    threads = [threading.Thread(target=dns.down) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(calls) == names.HEALTH_ATTEMPTS  # probed once per run, whoever asks
    with pytest.raises(names.ResolversDown):
        dns.resolve("api.rs.example.com")
    assert dns.known_or_resolvable("api.rs.example.com") is None
    assert dns.known_or_resolvable(site.hosts[0].name) is True
    sock.close()
