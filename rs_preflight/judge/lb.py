"""RS-LB-*: what the backend receives through the load balancer (guide §9.7, §2.10). Pure.

Inputs are what a header-echo backend reported
(:class:`~rs_preflight.gather.probes.records.Echo`) and what the client sent and from where.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from rs_preflight.gather.probes.records import Answer, Echo, Upgrade
from rs_preflight.spec.redact import clip
from rs_preflight.spec.results import Verdict, error, failed, passed


def _addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):                       # "[2001:db8::1]:4711" (RFC 7239 style)
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:                     # "192.0.2.1:4711"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def host_kept(name: str, seen: Echo) -> Verdict:
    """RS-LB-01: the backend receives ``Host: <the name the client used>`` (once)."""
    got = seen.values("Host")
    hosts = [h.lower().rstrip(".").rsplit(":", 1)[0] if not h.startswith("[") else h.lower()
             for h in got]
    expected = f"Host: {name}"
    found = "Host: " + " | ".join(got) if got else "no Host header"
    if hosts == [name.lower()]:
        return passed("Host arrives unchanged", expected, found)
    return failed(f"the backend receives {found!r} instead of the name the client used",
                  expected, found)


def forwarded_for(client: str, seen: Echo) -> Verdict:
    """RS-LB-02: ``X-Forwarded-For`` arrives and its last entry is the client's address.

    The last entry is what the LB appended (the hop the backend can trust); anything before
    it was sent by the client or earlier proxies.
    """
    values = seen.values("X-Forwarded-For")
    entries = [e.strip() for v in values for e in v.split(",") if e.strip()]
    expected = f"X-Forwarded-For ending with the client's address {client}"
    if not entries:
        return failed("the backend receives no X-Forwarded-For", expected,
                      "no X-Forwarded-For header")
    found = "X-Forwarded-For: " + ", ".join(entries)
    if _addr(entries[-1]) == _addr(client):
        return passed(f"X-Forwarded-For ends with the client's address {client}",
                      expected, found)
    why = " (the load balancer's own address?)" if _addr(entries[-1]) == _addr(seen.client) \
        else ""
    return failed(f"X-Forwarded-For ends with {entries[-1]}, not the client's address "
                  f"{client}{why}", expected, found)


def forwarded_proto(seen: Echo) -> Verdict:
    """RS-LB-03: exactly one ``X-Forwarded-Proto: https``."""
    values = seen.values("X-Forwarded-Proto")
    expected = "X-Forwarded-Proto: https"
    found = "X-Forwarded-Proto: " + " | ".join(values) if values else \
        "no X-Forwarded-Proto header"
    if [v.strip().lower() for v in values] == ["https"]:
        return passed("X-Forwarded-Proto is https", expected, found)
    return failed(f"the backend receives {found!r}: R-Service would build http:// links "
                  f"and redirect loops", expected, found)


def health(what: str, answer: Answer, body: str | None = None) -> Verdict:
    """RS-LB-04: 200, and when ``body`` is given, exactly that body (a 200 page is not enough)."""
    expected = "200" + (f" with body {body!r}" if body is not None else "")
    got = answer.text.strip()
    found = f"{answer.status}" + (f" body {clip(got, 60)!r}" if body is not None else "")
    if answer.status != 200:
        return failed(f"{what} answers {answer.status}", expected, found)
    if body is not None and got != body:
        return failed(f"{what} answers 200 with another body", expected, found)
    return passed(f"{what} answers {expected}", expected, found)


def websocket(name: str, upgrade: Upgrade) -> Verdict:
    """RS-LB-05: the ``Upgrade: websocket`` request to the realtime name is switched (101)."""
    expected = "101 Switching Protocols with a valid Sec-WebSocket-Accept"
    if upgrade.switched:
        return passed(f"WebSocket upgrade to {name} is switched", expected, upgrade.detail)
    return failed(f"WebSocket upgrade to {name} is not passed through: {upgrade.detail}",
                  expected, upgrade.detail)


def trusted_proxy(seen_as: Sequence[str], trusted: str | None) -> Verdict:
    """RS-LB-06: the address backends see for the LB is in ``ITRP_TRUSTED_PROXIES`` when that
    is set, else a public address (R-Service trusts private proxies only when listed)."""
    addrs = [a for a in (_addr(s) for s in seen_as) if a is not None]
    if not addrs:
        return error("the backend did not report the load balancer's address")
    found = ", ".join(sorted({str(a) for a in addrs}))
    if trusted and trusted.strip():
        nets = []
        for part in trusted.split(","):
            try:
                nets.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                return failed(f"ITRP_TRUSTED_PROXIES has an entry that is not an address or "
                              f"network: {part.strip()!r}", "comma-separated CIDRs", trusted)
        outside = sorted({str(a) for a in addrs if not any(a in n for n in nets)})
        expected = f"inside ITRP_TRUSTED_PROXIES ({trusted})"
        if outside:
            return failed(f"the backends see the load balancer as {', '.join(outside)}, "
                          f"outside ITRP_TRUSTED_PROXIES: client addresses will be the LB's",
                          expected, found)
        return passed(f"the load balancer ({found}) is a trusted proxy", expected, found)
    private = sorted({str(a) for a in addrs if not a.is_global})
    expected = "a public address, or ITRP_TRUSTED_PROXIES set to include it"
    if private:
        return failed(f"the backends see the load balancer from the private address(es) "
                      f"{', '.join(private)} and ITRP_TRUSTED_PROXIES is not set",
                      expected, found)
    return passed(f"the load balancer's address {found} is public", expected, found)


__all__ = ["forwarded_for", "forwarded_proto", "health", "host_kept", "trusted_proxy",
           "websocket"]
