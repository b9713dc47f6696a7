"""The network matrix (REQUIREMENTS.md, App. 2): which flows leave which host, to where.

Pure: from the site (roles, hosts, R-Service settings) and the catalogue's flow table to a
list of ``Flow``s per source host. The flow table is data (the params of a ``network_matrix``
requirement, RS-PORT-01's).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rs_preflight.spec.backends import backend_for
from rs_preflight.spec.site import Host, Site


@dataclass(frozen=True)
class Flow:
    label: str
    source: str
    destination: str     # address or name, as the source host will connect to it
    port: int
    origin: str          # where the destination came from ("DB_WRITER_HOST", "role db")
    any_of: str = ""     # flows sharing this key are alternatives: one open is enough
                         # (lb → app on 443 or 80 when the site does not say which)

    def describe(self) -> str:
        dest = f"[{self.destination}]" if ":" in self.destination else self.destination
        return f"{self.label} {self.source} → {dest}:{self.port} ({self.origin})"


def _address(site: Site, name: str) -> str:
    """A site host's address for its name; anything else as given."""
    return next((h.address for h in site.hosts if h.name == name), name)


def _port(site: Site, rule: Mapping[str, Any], role: str | None) -> int:
    var = rule.get("port_var")
    value = site.settings.get(var, role=role) if var else None
    return int(value) if value and value.isdigit() else int(rule["port"])


def _destinations(site: Site, rule: Mapping[str, Any], role: str | None
                  ) -> list[tuple[str, int, str]]:
    if "to_urls" in rule:
        raw = site.settings.get(rule["to_urls"], role=role) or ""
        out = []
        for url in filter(None, (u.strip() for u in raw.split(","))):
            parsed = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
            if parsed.hostname:
                try:
                    port = parsed.port or int(rule["port"])
                except ValueError:
                    continue  # RS-ENV-05 reports a bad URL
                out.append((_address(site, parsed.hostname), port, rule["to_urls"]))
        return out
    for var in rule.get("to_vars", ()):
        value = site.settings.get(var, role=role)
        if value:
            return [(_address(site, value), _port(site, rule, role), var)]
    if "to_role" in rule and "backend_ports" in rule:
        # lb → backends: the per-role port(s) of rs_preflight.spec.backends (declared or matrix)
        backend = backend_for(site, rule["backend_ports"])
        return [(h.address, port, f"role {rule['to_role']}, {backend.describe()}")
                for h in site.hosts_with(rule["to_role"]) for port in backend.ports]
    if "to_role" in rule:
        return [(h.address, _port(site, rule, role), f"role {rule['to_role']}")
                for h in site.hosts_with(rule["to_role"])]
    return []


def flows_for(site: Site, host: Host, table: Sequence[Mapping[str, Any]], phase: str
              ) -> list[Flow]:
    """Every flow ``host`` must be able to open, in ``phase``."""
    flows: list[Flow] = []
    seen: set[tuple[str, str, int]] = set()
    for rule in table:
        if phase == "pre" and not rule.get("external"):
            continue
        sources = [r for r in rule["from"] if r in host.roles]
        if not sources:
            continue
        for dest, port, origin in _destinations(site, rule, sources[0]):
            key = (rule["label"], dest, port)
            if key not in seen:
                seen.add(key)
                any_of = f"{rule['label']} {dest}" if "backend_ports" in rule else ""
                flows.append(Flow(rule["label"], host.name, dest, port, origin, any_of))
    return flows
