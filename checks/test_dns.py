"""RS-DNS-*: names at the site's resolvers (guide §4, §5, App. 1); the hosts' own names and
the floating addresses' names, forward and reverse (VOIP-DNS-01, VOIP-FLOAT-02).

Glue only: ask the site's resolvers (``dns.resolvers``; the runner's resolver is never used),
judge with :mod:`rs_preflight.judge.dns`.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress

import dns.resolver
import pytest

from rs_preflight.gather.probes import dns as probe
from rs_preflight.gather.probes.records import Lookup
from rs_preflight.judge import dns as judge
from rs_preflight.judge.common import every
from rs_preflight.model import Target
from rs_preflight.spec.dnsnames import predetermined_names
from rs_preflight.spec.results import Verdict, error, worst

NO_RESOLVER = error("no dns.resolvers in the site: rs-preflight never asks the runner's own "
                    "resolver about the site's names")


def _domain(rs: Target) -> str:
    if not rs.site.domain:
        pytest.skip("ITRP_DOMAIN is not set (RS-ENV-01 reports it)")
    return rs.site.domain


def _plain(rs: Target) -> dict[str, str]:
    return {k: v.value for k, v in rs.settings().items()}


def _resolver(rs: Target) -> dns.resolver.Resolver | Verdict:
    """The site's answering resolvers, or the error verdict: none configured, or none answers
    the run's one health probe (then every DNS check says so at once, not after timeouts)."""
    if not rs.site.dns_resolvers:
        return NO_RESOLVER
    down = rs.state.dns.down()
    if down:
        return error(down)
    resolver = rs.state.dns.resolver()
    assert resolver is not None
    return resolver


def _to_lb(rs: Target, wanted: list[tuple[str, str]]) -> Verdict:
    """Every (name, description) in ``wanted`` resolves, A and AAAA, to the load balancer."""
    resolver = _resolver(rs)
    if isinstance(resolver, Verdict):
        return resolver
    if not rs.site.lb_addresses:
        return error("load_balancer.addresses is not set in the site: cannot tell whether "
                     "the names point at the load balancer")
    # every name at once: a slow resolver costs one timeout, not one per name
    with concurrent.futures.ThreadPoolExecutor(max(1, min(16, len(wanted)))) as pool:
        found = list(pool.map(lambda nw: probe.addresses(resolver, nw[0]), wanted))
    results = [(what, got) for (_, what), got in zip(wanted, found, strict=True)]
    return judge.all_resolve_to(results, rs.site.lb_addresses)


@pytest.mark.kind("dns_domain")
def test_domain_resolves_to_lb(rs: Target) -> Verdict:
    domain = _domain(rs)
    return _to_lb(rs, [(domain, domain)])


@pytest.mark.kind("dns_wildcard")
def test_wildcard(rs: Target, rs_tenant_label: str) -> Verdict:
    name = f"{rs_tenant_label}.{_domain(rs)}"
    return _to_lb(rs, [(name, f"the never-used name {name} (wildcard)")])


@pytest.mark.kind("dns_predetermined")
def test_predetermined_names(rs: Target) -> Verdict:
    wanted = predetermined_names(_plain(rs), _domain(rs))
    return _to_lb(rs, [(n, f"{n} ({origin})") for n, origin in wanted])


@pytest.mark.kind("dns_mail")
def test_mail_dns(rs: Target) -> Verdict:
    domain = _domain(rs)
    resolver = _resolver(rs)
    if isinstance(resolver, Verdict):
        return resolver
    s = _plain(rs)
    inbound = _mail_domain(s.get("ITRP_INBOUND_MAILBOX"), domain)
    sender = _mail_domain(s.get("ITRP_NOREPLY_MAILBOX"), inbound)
    verdicts = [judge.mx_present(inbound, probe.lookup(resolver, inbound, "MX")),
                judge.spf_present(sender, probe.lookup(resolver, sender, "TXT"))]
    if s.get("MAIL_DKIM_ENABLED", "false").lower() == "true":
        verdicts.append(_dkim(resolver, s, domain))
    return worst(verdicts)


def _dkim(resolver: dns.resolver.Resolver, s: dict[str, str], domain: str) -> Verdict:
    owner = (f"{s.get('MAIL_DKIM_SELECTOR') or 'default'}._domainkey."
             f"{s.get('MAIL_DKIM_DOMAIN') or domain}")
    key = s.get("MAIL_DKIM_PRIVATE_KEY")
    if not key:
        return error("MAIL_DKIM_ENABLED is true but MAIL_DKIM_PRIVATE_KEY is not set: "
                     "cannot compare the published key")
    return judge.dkim_matches(owner, probe.lookup(resolver, owner, "TXT"), key)


def _mail_domain(mailbox: str | None, default: str) -> str:
    return mailbox.rsplit("@", 1)[1].lower() if mailbox and "@" in mailbox else default


def _both_ways(resolver: dns.resolver.Resolver, name: str, address: str, rdtype: str,
               reverse: bool) -> tuple[Lookup, Lookup | None]:
    """``rdtype`` of ``name`` and, with ``reverse``, the PTR of ``address``: asked together."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        forward = pool.submit(probe.lookup, resolver, name, rdtype)
        back = pool.submit(probe.reverse, resolver, address) if reverse else None
        return forward.result(), back.result() if back else None


def _record_for(address: str) -> str | None:
    """AAAA for an IPv6 address, A for IPv4, None for a name."""
    try:
        return "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
    except ValueError:
        return None


@pytest.mark.kind("dns_forward_reverse")
def test_host_name_forward_reverse(rs: Target) -> Verdict:
    host = rs.host
    assert host is not None
    if not host.fqdn:
        pytest.skip(f"{host.name} has no DNS name in the site (hosts.{host.name}.fqdn): "
                    "nothing to resolve")
    rdtype = rs.params["record"]
    if _record_for(host.address) != rdtype:
        family = "IPv6" if rdtype == "AAAA" else "IPv4"
        what = "a name" if _record_for(host.address) is None else f"not an {family} address"
        return error(f"the address of {host.name} in the site, {host.address}, is {what}: "
                     f"cannot tell which {rdtype} record {host.fqdn} must have (give "
                     f"hosts.{host.name}.address as the host's {rdtype} address)")
    resolver = _resolver(rs)
    if isinstance(resolver, Verdict):
        return resolver
    forward, back = _both_ways(resolver, host.fqdn, host.address, rdtype,
                               bool(rs.params.get("reverse", False)))
    return judge.name_and_back(host.fqdn, host.address, forward, back)


@pytest.mark.kind("dns_floating_names")
def test_floating_names(rs: Target) -> Verdict:
    named = [f for f in rs.site.floating if f.name]
    if not named:
        pytest.skip("no floating address has a DNS name (floating_addresses.*.name)")
    resolver = _resolver(rs)
    if isinstance(resolver, Verdict):
        return resolver
    reverse = bool(rs.params.get("reverse", False))

    def one(address: str, name: str) -> Verdict:
        rdtype = _record_for(address) or "A"  # the site loader accepts only IP addresses
        forward, back = _both_ways(resolver, name, address, rdtype, reverse)
        return judge.name_and_back(name, address, forward, back)

    # every name at once: a slow resolver costs one timeout, not one per name
    with concurrent.futures.ThreadPoolExecutor(min(8, len(named))) as pool:
        verdicts = list(pool.map(lambda f: one(f.address, f.name or ""), named))
    return every("floating addresses' names",
                 [(f.label, v) for f, v in zip(named, verdicts, strict=True)])
