"""RS-LB judges: what the backend received, judged; truth tables with the issue's broken cases."""

from __future__ import annotations

import pytest

from rs_preflight.gather.probes.records import Answer, Echo, Upgrade
from rs_preflight.judge import lb as judge
from rs_preflight.spec.results import ERROR, FAILED, PASSED

CLIENT, LB = "10.0.0.1", "10.0.0.132"


def seen(*headers: tuple[str, str], client: str = LB) -> Echo:
    return Echo(tuple(headers), client)


@pytest.mark.parametrize(("headers", "outcome"), [
    ((("Host", "t1.rs.example.com"),), PASSED),
    ((("host", "T1.rs.example.com:443"),), PASSED),
    ((("Host", "rs_app"),), FAILED),                       # nginx without proxy_set_header Host
    ((), FAILED),
    ((("Host", "t1.rs.example.com"), ("Host", "x")), FAILED),
])
def test_host_kept(headers: tuple[tuple[str, str], ...], outcome: str) -> None:
    verdict = judge.host_kept("t1.rs.example.com", seen(*headers))
    assert verdict.outcome == outcome
    if outcome == FAILED:
        assert verdict.expected == "Host: t1.rs.example.com"


@pytest.mark.parametrize(("headers", "outcome", "text"), [
    ((("X-Forwarded-For", CLIENT),), PASSED, ""),
    ((("X-Forwarded-For", f"203.0.113.9, {CLIENT}"),), PASSED, ""),   # spoofed entry left of it
    ((("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", CLIENT)), PASSED, ""),
    ((), FAILED, "no X-Forwarded-For"),
    ((("X-Forwarded-For", LB),), FAILED, "load balancer's own address"),  # replaced by the LB
    ((("X-Forwarded-For", f"{CLIENT}, 192.0.2.1"),), FAILED, "ends with 192.0.2.1"),
])
def test_forwarded_for(headers: tuple[tuple[str, str], ...], outcome: str, text: str) -> None:
    verdict = judge.forwarded_for(CLIENT, seen(*headers))
    assert verdict.outcome == outcome and text in verdict.message


def test_forwarded_for_ipv6_forms() -> None:
    ok = judge.forwarded_for("fd00:213::1", seen(("X-Forwarded-For", "[fd00:213:0::1]:5555")))
    assert ok.outcome == PASSED


@pytest.mark.parametrize(("values", "outcome"), [
    (["https"], PASSED), (["HTTPS"], PASSED), (["http"], FAILED), ([], FAILED),
    (["https", "http"], FAILED),
])
def test_forwarded_proto(values: list[str], outcome: str) -> None:
    verdict = judge.forwarded_proto(seen(*(("X-Forwarded-Proto", v) for v in values)))
    assert verdict.outcome == outcome


@pytest.mark.parametrize(("status", "body", "want", "outcome"), [
    (200, b"I am a teapot", "I am a teapot", PASSED),
    (200, b"I am a teapot\n", "I am a teapot", PASSED),
    (200, b"<html>Welcome to nginx</html>", "I am a teapot", FAILED),  # a 200 is not enough
    (502, b"Bad Gateway", "I am a teapot", FAILED),
    (200, b"GIF89a", None, PASSED), (404, b"", None, FAILED),
])
def test_health(status: int, body: bytes, want: str | None, outcome: str) -> None:
    answer = Answer("https://d/teapot", status, {}, body)
    assert judge.health("https://d/teapot", answer, want).outcome == outcome


def test_websocket() -> None:
    assert judge.websocket("rt", Upgrade(True, 101, "switched")).outcome == PASSED
    refused = judge.websocket("rt", Upgrade(False, 200, "answered 200 OK"))
    assert refused.outcome == FAILED and "200" in refused.message


@pytest.mark.parametrize(("seen_as", "trusted", "outcome"), [
    (["10.0.0.132"], "10.0.0.0/24,fd00::/64", PASSED),
    (["10.0.0.132", "fd00::132"], "10.0.0.0/24, fd00::/64", PASSED),
    (["10.0.0.132"], "172.16.0.0/12", FAILED),
    (["10.0.0.132"], None, FAILED),                       # private and not listed
    (["8.8.8.8"], None, PASSED),                          # public: trusted by R-Service as is
    (["10.0.0.132"], "not-a-network", FAILED),
    ([], None, ERROR),
])
def test_trusted_proxy(seen_as: list[str], trusted: str | None, outcome: str) -> None:
    assert judge.trusted_proxy(seen_as, trusted).outcome == outcome
