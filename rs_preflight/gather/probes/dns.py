"""DNS at the site's resolvers (dnspython, ``configure=False``), every query with a timeout.

>>> lookup(resolver, "api.rs.example.com", "A")
Lookup(name='api.rs.example.com', rdtype='A', status='ok', values=('192.0.2.10',), detail='')

A lookup never raises for an answer: NXDOMAIN and NODATA are results (``status``); a resolver
that does not answer is ``status == "error"`` with the reason in ``detail``.
"""

from __future__ import annotations

import secrets

import dns.exception
import dns.resolver
import dns.reversename

from rs_preflight.gather.probes.records import ERROR, NODATA, NXDOMAIN, OK, Lookup


def random_label(prefix: str = "rs-preflight-") -> str:
    """A never-used label: proves a wildcard, since no specific record can exist for it."""
    return prefix + secrets.token_hex(6)


def lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> Lookup:
    """Ask ``resolver`` for ``rdtype`` of ``name``; CNAMEs are followed by dnspython."""
    try:
        answer = resolver.resolve(name, rdtype, search=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(name, rdtype, NXDOMAIN)
    except dns.resolver.NoAnswer:
        return Lookup(name, rdtype, NODATA)
    except (dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout,
            dns.exception.Timeout) as exc:
        return Lookup(name, rdtype, ERROR, detail=f"{type(exc).__name__}: {exc}")
    except dns.exception.DNSException as exc:
        return Lookup(name, rdtype, ERROR, detail=f"{type(exc).__name__}: {exc}")
    return Lookup(name, rdtype, OK, tuple(_text(rdtype, r) for r in answer))


def _text(rdtype: str, rdata: object) -> str:
    if rdtype == "TXT":  # a long TXT is several <=255-byte strings: join with nothing between
        return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
    if rdtype == "MX":
        return str(rdata.exchange).rstrip(".")  # type: ignore[attr-defined]
    if rdtype == "PTR":
        return str(rdata.target).rstrip(".")  # type: ignore[attr-defined]
    return str(rdata.to_text())  # type: ignore[attr-defined]


def addresses(resolver: dns.resolver.Resolver, name: str) -> tuple[Lookup, Lookup]:
    """A and AAAA of ``name``."""
    return lookup(resolver, name, "A"), lookup(resolver, name, "AAAA")


def reverse(resolver: dns.resolver.Resolver, address: str) -> Lookup:
    """PTR of ``address`` (its in-addr.arpa / ip6.arpa name); ``name`` is that reverse name,
    ``values`` the names it gives, without the final dot."""
    owner = dns.reversename.from_address(address).to_text().rstrip(".")
    return lookup(resolver, owner, "PTR")


__all__ = ["ERROR", "NODATA", "NXDOMAIN", "OK", "Lookup", "addresses", "lookup",
           "random_label", "reverse"]
