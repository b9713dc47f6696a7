"""Where to connect for a service of the site — one answer for every probe.

An address, never a name for the runner's resolver to look up: a literal IP, a site host's
address, or what the site's resolvers answer (``dns``: the run's :class:`~rs_preflight.gather.names.
SiteDns`, so the resolvers' health and answers are shared). Names travel only in TLS (SNI,
certificate checks) and in ``Host``.

>>> address_for(site, "db1")          # a site host
'192.0.2.21'
>>> lb_addresses(site, "api.rs.example.com")   # load_balancer.addresses, else the name's
['192.0.2.10']
"""

from __future__ import annotations

import contextlib
import ipaddress

from rs_preflight.gather import names
from rs_preflight.gather.probes import ProbeError
from rs_preflight.spec.site import Site


def address_for(site: Site, host: str, dns: names.SiteDns | None = None) -> str:
    """The address to connect to for ``host``: a literal IP, a site host's address, or the
    first address the site's resolvers give (``dns``: the run's, so the resolvers' health and
    answers are shared). Never the runner's resolver."""
    host = host.strip().strip("[]")
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    for h in site.hosts:
        if host in (h.name, h.address):
            with contextlib.suppress(ValueError):
                return str(ipaddress.ip_address(h.address))
            host = h.address
    if not site.dns_resolvers:
        raise ProbeError(f"{host} is a name and the site has no dns.resolvers to resolve it "
                         "(names are never resolved with the runner's resolver)")
    got = (dns or names.SiteDns(site)).resolve(host)  # ResolversDown: none answers at all
    if got.error:
        raise ProbeError(got.error)
    found = list(got.addresses)
    if not found:
        raise ProbeError(f"{host} does not resolve at the site's resolvers "
                         f"({', '.join(site.dns_resolvers)})")
    return sorted(found, key=lambda a: ":" in a)[0]  # IPv4 first


def lb_addresses(site: Site, name: str, dns: names.SiteDns | None = None) -> list[str]:
    """Where a request for the web name ``name`` goes: the site's ``load_balancer.addresses``,
    else the name's addresses at the site's resolvers ([] when neither says)."""
    return list(site.lb_addresses) or names.addresses(site, name, dns)


__all__ = ["address_for", "lb_addresses"]
