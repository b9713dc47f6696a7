"""Name resolution the way the site sees it: through the site's resolvers, never the runner's.

dnspython with ``configure=False`` and the site's ``dns.resolvers``: the runner's
/etc/resolv.conf may point somewhere the site's names mean nothing (or somewhere they must
not be sent). Every query has a timeout.

A run holds one :class:`SiteDns` (``RunState.dns``): it asks each resolver one short question
first (the *health probe*), once per run. When none answers, every DNS-dependent check is one
quick error naming the resolvers, instead of each name waiting its full timeout::

    >>> dns = SiteDns(site)
    >>> dns.down()          # None, or "the site's DNS resolvers 192.0.2.53 do not answer (…)"
    >>> dns.resolve("db1.rs.example.com").addresses
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver

from rs_preflight.gather.probes import ProbeError
from rs_preflight.spec.site import Site

HEALTH_TIMEOUT_S = 1.5   # one health query per resolver and attempt (two attempts: a lost packet)
HEALTH_ATTEMPTS = 2
PARALLEL_LOOKUPS = 16


class ResolversDown(ProbeError):
    """No site resolver answered the health probe: nothing DNS-dependent can be checked."""


@dataclass(frozen=True)
class Resolved:
    """A and AAAA of one name: ``addresses``, or ``error`` when the resolvers did not say
    (timeout, no nameserver); no addresses and no error means the name does not exist."""

    name: str
    addresses: tuple[str, ...] = ()
    error: str | None = None


def resolver_for(site: Site, nameservers: Iterable[str] | None = None
                 ) -> dns.resolver.Resolver | None:
    servers = list(site.dns_resolvers if nameservers is None else nameservers)
    if not servers:
        return None
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = servers
    resolver.timeout = resolver.lifetime = site.dns_timeout
    return resolver


def _answers(server: str, qname: str, timeout: float) -> str | None:
    """None if ``server`` replies at all (any rcode), else why not."""
    query = dns.message.make_query(qname, dns.rdatatype.SOA)
    reason = "no reply"
    for _ in range(HEALTH_ATTEMPTS):
        try:
            dns.query.udp(query, server, timeout=timeout)
            return None
        except dns.exception.Timeout:
            reason = "no reply"
        except (OSError, dns.exception.DNSException) as exc:
            reason = f"{type(exc).__name__}: {exc}"
    return reason


def probe_resolvers(site: Site, timeout: float = HEALTH_TIMEOUT_S) -> tuple[list[str], str | None]:
    """(resolvers that answer, the error when none does): one SOA query per resolver, in
    parallel, each attempt bounded by ``timeout``."""
    servers = list(site.dns_resolvers)
    qname = site.domain or "."
    with concurrent.futures.ThreadPoolExecutor(max(1, len(servers))) as pool:
        reasons = list(pool.map(lambda s: _answers(s, qname, timeout), servers))
    alive = [s for s, r in zip(servers, reasons, strict=True) if r is None]
    if alive or not servers:
        return alive, None
    why = "; ".join(sorted({r for r in reasons if r}))
    return [], (f"the site's DNS resolvers {', '.join(servers)} do not answer ({why} to a SOA "
                f"query for {qname} within {HEALTH_ATTEMPTS} × {timeout:g} s)")


class SiteDns:
    """The site's resolvers for one run: health probed once, answers cached, lookups parallel.
    Thread-safe; never asks the runner's resolver."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._lock = threading.Lock()
        self._probed = False
        self._alive: list[str] = []
        self._down: str | None = None
        self._cache: dict[str, Resolved] = {}

    def _probe(self) -> None:
        with self._lock:
            if not self._probed:
                self._alive, self._down = probe_resolvers(self.site)
                self._probed = True

    def down(self) -> str | None:
        """Why no DNS-dependent check can run (no site resolver answers), or None."""
        if not self.site.dns_resolvers:
            return None
        self._probe()
        return self._down

    def resolver(self) -> dns.resolver.Resolver | None:
        """A resolver over the answering site resolvers; raises ResolversDown if none answer,
        None if the site has no resolvers."""
        down = self.down()
        if down:
            raise ResolversDown(down)
        return resolver_for(self.site, self._alive or None)

    def resolve(self, name: str) -> Resolved:
        """A and AAAA of ``name`` (cached for the run); raises ResolversDown."""
        if name in self._cache:
            return self._cache[name]
        resolver = self.resolver()
        if resolver is None:
            return Resolved(name, error="the site has no dns.resolvers (the runner's resolver "
                                        "is never asked)")
        found: list[str] = []
        errors: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                found += [r.to_text() for r in resolver.resolve(name, rdtype, search=False)]
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.DNSException as exc:
                errors.append(f"{rdtype}: {type(exc).__name__}")
        got = Resolved(name, tuple(found), None if found or not errors else
                       f"the site's resolvers did not answer for {name} ({'; '.join(errors)})")
        with self._lock:
            self._cache[name] = got
        return got

    def resolve_many(self, names: Iterable[str]) -> dict[str, Resolved]:
        """``resolve`` for many names at once: in parallel, so they share one timeout."""
        wanted = list(dict.fromkeys(names))
        self.resolver()  # raises once, before any thread starts, when nothing answers
        workers = max(1, min(PARALLEL_LOOKUPS, len(wanted)))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            return dict(zip(wanted, pool.map(self.resolve, wanted), strict=True))

    def addresses(self, name: str) -> list[str]:
        """A and AAAA of ``name`` ([] if none, NXDOMAIN or no answer)."""
        return list(self.resolve(name).addresses)

    def known_or_resolvable(self, name: str) -> bool | None:
        """True for a site host's name or address, or a name the site's resolvers answer;
        None when that cannot be told (the resolvers did not answer)."""
        if any(name in (h.name, h.address) for h in self.site.hosts):
            return True
        if not self.site.dns_resolvers:
            return False
        try:
            got = self.resolve(name)
        except ResolversDown:
            return None
        return True if got.addresses else (None if got.error else False)


def addresses(site: Site, name: str, dns: SiteDns | None = None) -> list[str]:
    """A and AAAA of ``name`` at the site's resolvers ([] if none, NXDOMAIN or no answer)."""
    if not site.dns_resolvers:
        return []
    try:
        return (dns or SiteDns(site)).addresses(name)
    except ResolversDown:
        return []


__all__ = ["Resolved", "ResolversDown", "SiteDns", "addresses", "probe_resolvers",
           "resolver_for"]
