"""The syntax of the addresses a site description gives: checked when the site is loaded.

>>> why_not_address("192.0.2.1"), why_not_address("app1.example.com")
(None, None)
>>> why_not_address("db; touch x")
"'db; touch x' is neither an IP address nor a DNS name"
>>> parse_jump_host("ops@[2001:db8::1]:2222")
('ops', '2001:db8::1', 2222)
"""

from __future__ import annotations

import ipaddress
import re

# RFC 1123 host names (letters, digits, hyphens; '_' for the names some sites use anyway):
# labels of 1..63 characters that neither start nor end with a hyphen, 253 characters in all.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_dns_name(value: str) -> bool:
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    return (0 < len(name) <= 253 and all(_LABEL.match(label) for label in labels)
            and not labels[-1].isdigit())  # 999.1.1.1 is a bad address, not a name


def normal_address(value: str) -> str:
    """One spelling per address, to compare two: an IP address compressed (an IPv4-mapped
    IPv6 address as its IPv4), a DNS name in lower case without the final dot.

    >>> normal_address("FD75:9FAC:A7B1:0092:006C:0:0:0601"), normal_address("::ffff:192.0.2.1")
    ('fd75:9fac:a7b1:92:6c::601', '192.0.2.1')
    >>> normal_address("Couch1.DB.rcsnet.ru.")
    'couch1.db.rcsnet.ru'
    """
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value.rstrip(".").lower()
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).compressed


def in_domain(name: str, domain: str) -> bool:
    """``name`` is ``domain`` or a name under it (labels compared, not text: ``xrcsnet.ru`` is
    not under ``rcsnet.ru``).

    >>> in_domain("couch1.db.rcsnet.ru", "rcsnet.ru"), in_domain("db.rcsnet.ru1", "rcsnet.ru")
    (True, False)
    """
    name, domain = normal_address(name), normal_address(domain)
    return name == domain or name.endswith("." + domain)


def why_not_address(value: object) -> str | None:
    """None for an IP address or a DNS name, else what is wrong (for a site problem)."""
    if isinstance(value, str) and (is_ip(value) or is_dns_name(value)):
        return None
    return f"{_short(value)} is neither an IP address nor a DNS name"


def why_not_ip(value: object) -> str | None:
    """None for an IPv4 or IPv6 address, else what is wrong."""
    if isinstance(value, str) and is_ip(value):
        return None
    return f"{_short(value)} is not an IP address"


def why_not_port(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return None
    return f"{_short(value)} is not a port (1..65535)"


def parse_jump_host(value: str) -> tuple[str, str, int]:
    """``[user@]host[:port]`` (an IPv6 host in brackets when a port follows) → (user, host,
    port); ``ValueError`` says what is wrong. The user is "" when not given; the port 22."""
    user, at, rest = value.rpartition("@")
    if at and not user:
        raise ValueError(f"{_short(value)}: empty user before '@'")
    host, port_text = rest, ""
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ValueError(f"{_short(value)}: expected [IPv6 address]:port")
        port_text = tail[1:]
        if tail and not port_text:
            raise ValueError(f"{_short(value)}: empty port after ':'")
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
        if not port_text:
            raise ValueError(f"{_short(value)}: empty port after ':'")
    port = 22
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or \
                why_not_port(int(port_text[:6])):
            raise ValueError(f"{_short(value)}: {_short(port_text)} is not a port (1..65535)")
        port = int(port_text)
    why = why_not_address(host)
    if why:
        raise ValueError(f"{_short(value)}: {why}")
    if any(c.isspace() or c in "'\"`$;&|<>\\" for c in user):
        raise ValueError(f"{_short(value)}: {_short(user)} is not a user name")
    return user, host, port


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = ["in_domain", "is_dns_name", "is_ip", "normal_address", "parse_jump_host",
           "why_not_address", "why_not_ip", "why_not_port"]
