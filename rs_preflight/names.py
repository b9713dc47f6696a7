"""Name resolution the way the site sees it: through the site's resolvers, never the runner's.

dnspython with ``configure=False`` and the site's ``dns.resolvers``: the runner's
/etc/resolv.conf may point somewhere the site's names mean nothing (or somewhere they must
not be sent). Every query has a timeout.
"""

from __future__ import annotations

import dns.exception
import dns.resolver

from .site import Site


def resolver_for(site: Site) -> dns.resolver.Resolver | None:
    if not site.dns_resolvers:
        return None
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = list(site.dns_resolvers)
    resolver.timeout = resolver.lifetime = site.dns_timeout
    return resolver


def addresses(site: Site, name: str) -> list[str]:
    """A and AAAA of ``name`` at the site's resolvers ([] if none or NXDOMAIN)."""
    resolver = resolver_for(site)
    if resolver is None:
        return []
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += [r.to_text() for r in resolver.resolve(name, rdtype)]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers,
                dns.exception.Timeout):
            continue
    return found


def known_or_resolvable(site: Site, name: str) -> bool:
    """True for a site host's name or address, or a name the site's resolvers answer."""
    if any(name in (h.name, h.address) for h in site.hosts):
        return True
    return bool(addresses(site, name))
