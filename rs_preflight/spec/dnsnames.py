"""The names R-Service serves on a site, from its settings (guide §4, App. 1). Spec: no I/O.

Both the probes (which names to ask the load balancer for) and the checks (which names must
resolve to it) read them here:

>>> web_names({}, "rs.example.com", "rs-preflight-1a2b")[:3]
['rs.example.com', 'rs-preflight-1a2b.rs.example.com', 'api.rs.example.com']
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

# name → (variable, default label) — REQUIREMENTS.md "Name service", guide App. 1
SUBDOMAIN_VARIABLES = (("ITRP_API_SUBDOMAIN", "api"), ("ITRP_GRAPHQL_SUBDOMAIN", "graphql"),
                       ("ITRP_OAUTH_SUBDOMAIN", "oauth"))
ASSETS_DEFAULT = "assets0,assets1,assets2,assets3"


def _fqdn(value: str, domain: str) -> str:
    """A label is below ``domain``; a dotted value is a full name already."""
    value = value.strip().lower().rstrip(".")
    return value if "." in value else f"{value}.{domain}"


def predetermined_names(settings: Mapping[str, str], domain: str) -> list[tuple[str, str]]:
    """The names R-Service serves besides tenants, as (name, where it comes from).

    >>> predetermined_names({}, "rs.example.com")[0]
    ('api.rs.example.com', 'ITRP_API_SUBDOMAIN (default api)')
    """
    out: list[tuple[str, str]] = []
    for var, default in SUBDOMAIN_VARIABLES:
        out.append(_named(settings, var, default, domain))
    assets = settings.get("ITRP_ASSETS_HOSTS") or ASSETS_DEFAULT
    origin = "ITRP_ASSETS_HOSTS" if settings.get("ITRP_ASSETS_HOSTS") else \
        "ITRP_ASSETS_HOSTS (default assets0-3)"
    out += [(_fqdn(a, domain), origin) for a in assets.split(",") if a.strip()]
    faye = settings.get("FAYE_URL")
    host = urlsplit(faye).hostname if faye else None
    out.append((host.lower(), "host of FAYE_URL") if host else
               (f"realtime.{domain}", "FAYE_URL (default https://realtime.<domain>)"))
    out.append(_named(settings, "ITRP_SHORT_URL_DOMAIN", "io", domain))
    unique: dict[str, str] = {}
    for name, origin in out:
        unique.setdefault(name, origin)
    return list(unique.items())


def _named(settings: Mapping[str, str], var: str, default: str, domain: str
           ) -> tuple[str, str]:
    value = settings.get(var)
    return (_fqdn(value, domain), var) if value else \
        (_fqdn(default, domain), f"{var} (default {default})")


def realtime_name(settings: Mapping[str, str], domain: str) -> str:
    """The realtime (faye) name: the host of ``FAYE_URL``, default ``realtime.<domain>``."""
    faye = settings.get("FAYE_URL")
    host = urlsplit(faye).hostname if faye else None
    return host.lower() if host else f"realtime.{domain}"


def web_names(settings: Mapping[str, str], domain: str, tenant_label: str) -> list[str]:
    """The names a browser uses: the apex, a fresh tenant, and every predetermined name."""
    names = [domain, f"{tenant_label}.{domain}",
             *(n for n, _ in predetermined_names(settings, domain))]
    return list(dict.fromkeys(names))


__all__ = ["ASSETS_DEFAULT", "SUBDOMAIN_VARIABLES", "predetermined_names", "realtime_name",
           "web_names"]
