"""RS-NET-01: the link carrying the host's address runs at 1 Gbit/s or more (guide §8.5);
VOIP-FLOAT-01: each floating address is held by exactly one host of its pair.

The floating addresses are read from each pair host's ``links`` fact (``ip -o addr show``),
gathered in the host's one round trip with everything else: no extra command."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from rs_preflight.judge import net as judge
from rs_preflight.judge.common import every
from rs_preflight.model import Target
from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.results import Verdict


@pytest.mark.kind("link_speed")
def test_link_speed(rs: Target) -> Verdict:
    assert rs.host is not None
    return judge.link_speed(rs.facts.get("links"), rs.host.address, rs.params["min_mbps"])


@pytest.mark.kind("floating_address")
def test_floating_address(rs: Target) -> Verdict:
    if not rs.site.floating:
        pytest.skip("the site declares no floating_addresses")
    links: dict[str, Mapping[str, Any] | str] = {}
    shown: list[str] = []  # evidence: what each pair host's ip -o addr show printed
    for name in dict.fromkeys(h for f in rs.site.floating for h in f.hosts):
        links[name] = _links(rs, name, shown)
    verdict = every("floating addresses", [
        (f"{f.label} {f.address}", judge.floating_held(f.address,
                                                        [(h, links[h]) for h in f.hosts]))
        for f in rs.site.floating])
    return replace(verdict, evidence="\n".join(shown) or None)


def _links(rs: Target, name: str, shown: list[str]) -> Mapping[str, Any] | str:
    """The host's ``links`` fact, or why it could not be read."""
    host = rs.site.host(name)
    if not host.reachable:
        return "checked over the network only, ssh: false"
    try:
        facts = rs.state.facts(host)
        links: Mapping[str, Any] = facts.get("links")
    except PreflightError as exc:
        return str(exc)
    shown.append(facts.evidence(["links"], limit=800, redact=rs.site.redactor))
    return links
