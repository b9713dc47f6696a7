"""RS-TLS-*: the certificate and protocol the load balancer serves, name by name (guide §4).

Glue only: one handshake per (name, load-balancer address) with the name in SNI, asked of the
run's state once (``rs.state.probe``) and judged by RS-TLS-01…04 alike; judged by
:mod:`rs_preflight.judge.tls`. Names: the domain, a fresh random tenant and every
predetermined name (:mod:`rs_preflight.spec.dnsnames`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

import pytest

from rs_preflight.gather.probes import ProbeError, http, tls
from rs_preflight.gather.probes.where import lb_addresses
from rs_preflight.judge import tls as judge
from rs_preflight.model import Target
from rs_preflight.spec.dnsnames import web_names
from rs_preflight.spec.results import Verdict, error


def _timeout(rs: Target) -> float:
    return float(rs.params.get("timeout", 5))


def _handshakes(rs: Target, tenant: str) -> list[tuple[str, tls.Handshake]] | Verdict:
    """(``name @ address``, handshake) for every name and address, or an error verdict."""
    domain = rs.site.domain
    if not domain:
        pytest.skip("ITRP_DOMAIN is not set (RS-ENV-01 reports it)")
    settings = {k: v.value for k, v in rs.settings().items()}
    port, timeout = rs.site.tls_port, _timeout(rs)
    out: list[tuple[str, tls.Handshake]] = []
    failures: list[str] = []
    for name in web_names(settings, domain, tenant):
        addresses = lb_addresses(rs.site, name, rs.state.dns)
        if not addresses:
            failures.append(f"{name}: no load_balancer.addresses in the site and the name "
                            f"does not resolve at the site's resolvers")
        for address in addresses:
            try:
                out.append((f"{name} @ {address}", rs.state.probe(
                    ("tls", name, address, port),
                    functools.partial(tls.handshake, address, name, port, timeout), at=address)))
            except ProbeError as exc:
                failures.append(str(exc))
    if failures:
        return error("could not complete TLS handshakes: " + "; ".join(
            dict.fromkeys(failures)))
    return out


def _each(rs: Target, tenant: str, what: str,
          judge_one: Callable[[tls.Handshake], Verdict]) -> Verdict:
    got = _handshakes(rs, tenant)
    if isinstance(got, Verdict):
        return got
    return judge.summarize(what, [(target, judge_one(hs)) for target, hs in got])


@pytest.mark.kind("tls_names")
def test_certificate_names(rs: Target, rs_tenant_label: str) -> Verdict:
    return _each(rs, rs_tenant_label, "certificate names",
                 lambda hs: judge.names_verdict(hs.name, hs.chain[0]))


@pytest.mark.kind("tls_chain")
def test_chain_verifies(rs: Target, rs_tenant_label: str) -> Verdict:
    try:
        trusted = tls.trust_store(rs.site.tls_ca_bundle)
    except ProbeError as exc:
        return error(str(exc))
    store = tls.store_name(rs.site.tls_ca_bundle)
    now = dt.datetime.now(dt.UTC)
    return _each(rs, rs_tenant_label, "certificate chain",
                 lambda hs: judge.chain_verdict(hs.name, hs.chain, trusted, now, store))


@pytest.mark.kind("tls_dates")
def test_not_expiring(rs: Target, rs_tenant_label: str) -> Verdict:
    now = dt.datetime.now(dt.UTC)
    return _each(rs, rs_tenant_label, "certificate dates",
                 lambda hs: judge.dates_verdict(hs.chain, now, rs.site.tls_warn_days))


@pytest.mark.kind("tls_strength")
def test_strong_enough(rs: Target, rs_tenant_label: str) -> Verdict:
    return _each(rs, rs_tenant_label, "TLS strength",
                 lambda hs: judge.strength_verdict(hs.version, hs.chain, rs.params))


@pytest.mark.kind("https_only")
def test_https_only(rs: Target) -> Verdict:
    domain = rs.site.domain
    if not domain:
        pytest.skip("ITRP_DOMAIN is not set (RS-ENV-01 reports it)")
    addresses = lb_addresses(rs.site, domain, rs.state.dns)
    if not addresses:
        return error("no load_balancer.addresses in the site and the domain does not resolve "
                     "at the site's resolvers")
    url = f"http://{domain}/"
    verdicts = []
    for address in addresses:
        try:
            answer = http.get(address, url, timeout=_timeout(rs))
        except ProbeError as exc:
            verdicts.append((address, error(str(exc))))
            continue
        verdicts.append((address, judge.redirect_verdict(url, answer.status, answer.location,
                                                         domain)))
    return judge.summarize("HTTPS only", verdicts)
