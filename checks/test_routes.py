"""The names a host routes (seeds/002: Traefik's ``Host(`…`)`` rules): each resolves to the
host, serves a certificate valid for it, and redirects HTTP to HTTPS.

Names: the host's ``names:`` (``sources: [site]``) and, once containers run, the Host rules of
its running containers' Traefik labels (``traefik_labels``). DNS goes to the site's resolvers;
TLS and HTTP to the host's address with the name in SNI and ``Host`` (the TLS machinery of
RS-TLS-*). Each probe is asked of the run's state once (``rs.state.probe``: a handshake the
RS-TLS checks made is not made again). Judged by :mod:`rs_preflight.judge.routes` and
:mod:`rs_preflight.judge.tls`.
"""

from __future__ import annotations

import datetime as dt
import functools

import pytest

from rs_preflight.gather.names import ResolversDown
from rs_preflight.gather.probes import ProbeError, http, tls
from rs_preflight.judge import routes as judge
from rs_preflight.judge import tls as tls_judge
from rs_preflight.judge.containers import traefik_names
from rs_preflight.model import Target
from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.results import Verdict, error, worst


def _timeout(rs: Target) -> float:
    return float(rs.params.get("timeout", 5))


def routed_names(rs: Target) -> tuple[list[str], str]:
    """The names, and a note when the labels could not be read (said, never hidden)."""
    assert rs.host is not None
    sources = rs.params["sources"]
    names = list(rs.host.names) if "site" in sources else []
    note = ""
    if "traefik_labels" in sources:
        try:
            names += [n for n in traefik_names(rs.facts.get("docker_containers"))
                      if n not in names]
        except PreflightError as exc:
            note = f" (the Traefik labels could not be read: {exc})"
    return names, note


def _names_or_skip(rs: Target) -> tuple[list[str], str]:
    names, note = routed_names(rs)
    if not names:
        pytest.skip("no routed names: the host lists none (hosts.*.names) and no running "
                    "container has a Traefik Host rule" + note)
    return names, note


def _noted(verdict: Verdict, note: str) -> Verdict:
    from dataclasses import replace
    return replace(verdict, message=verdict.message + note) if note else verdict


@pytest.mark.kind("routed_names_resolve")
def test_routed_names_resolve(rs: Target) -> Verdict:
    assert rs.host is not None
    names, note = _names_or_skip(rs)
    if not rs.site.dns_resolvers:
        return error("the site names no dns.resolvers: names are resolved only there")
    try:
        mine = {rs.host.address} | set(rs.state.dns.addresses(rs.host.address)
                                       if not _is_ip(rs.host.address) else ())
        verdicts = [(n, judge.resolves_to(n, rs.state.dns.addresses(n), mine)) for n in names]
    except ResolversDown as exc:
        return error(str(exc))
    return _noted(tls_judge.summarize("routed names", verdicts), note)


def _is_ip(value: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@pytest.mark.kind("routed_names_tls")
def test_routed_names_tls(rs: Target) -> Verdict:
    assert rs.host is not None
    names, note = _names_or_skip(rs)
    try:
        trusted = tls.trust_store(rs.site.tls_ca_bundle)
    except ProbeError as exc:
        return error(str(exc))
    store = tls.store_name(rs.site.tls_ca_bundle)
    now = dt.datetime.now(dt.UTC)
    verdicts = []
    for name in names:
        address, port = rs.host.address, rs.site.tls_port
        try:  # the run's probe cache: one handshake per (name, address, port) for the run
            hs = rs.state.probe(("tls", name, address, port), functools.partial(
                tls.handshake, address, name, port, _timeout(rs)), at=address)
        except ProbeError as exc:
            verdicts.append((name, error(str(exc))))
            continue
        verdicts.append((name, worst([tls_judge.names_verdict(name, hs.chain[0]),
                                      tls_judge.chain_verdict(name, hs.chain, trusted, now,
                                                              store),
                                      tls_judge.dates_verdict(hs.chain, now,
                                                              rs.site.tls_warn_days)])))
    return _noted(tls_judge.summarize("certificates", verdicts), note)


@pytest.mark.kind("routed_names_https_redirect")
def test_routed_names_redirect(rs: Target) -> Verdict:
    assert rs.host is not None
    names, note = _names_or_skip(rs)
    verdicts = []
    for name in names:
        url = f"http://{name}/"
        address = rs.host.address
        try:
            answer = rs.state.probe(("http", url, address), functools.partial(
                http.get, address, url, timeout=_timeout(rs)), at=address)
        except ProbeError as exc:
            verdicts.append((name, error(str(exc))))
            continue
        verdicts.append((name, tls_judge.redirect_verdict(url, answer.status,
                                                          answer.location,
                                                          name)))
    return _noted(tls_judge.summarize("HTTP to HTTPS", verdicts), note)
