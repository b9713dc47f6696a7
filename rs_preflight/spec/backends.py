"""Which port and protocol the load balancer uses toward each role's backends (App. 2).

The guide's network matrix lets the load balancer reach **app** hosts on 443 *or* 80 and
**realtime** hosts on 443; TLS may end at the load balancer (plain HTTP to the backends) or be
re-encrypted. A site may say so per role (``load_balancer.backends``); where it says nothing,
every port the matrix names for the role is a candidate and the protocol is found out (TLS or
plain): before installation the header probe listens on each candidate port, after installation
the health checks ask each one. ``load_balancer.backend_port`` (older sites) is one port for
every role, protocol found out.

>>> site = Site(name="s", file=None, lb_backends={"app": (80, False)})
>>> backend_for(site, "app")
Backend(role='app', ports=(80,), tls=False, declared=True)
>>> backend_for(site, "realtime").ports
(443,)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the schema imports this module; the site imports the schema
    from rs_preflight.spec.site import Host, Site

# App. 2: lb → app on 443 or 80, lb → realtime on 443 (in the order they are tried).
MATRIX_PORTS: dict[str, tuple[int, ...]] = {"app": (443, 80), "realtime": (443,)}
BACKEND_ROLES = tuple(MATRIX_PORTS)


@dataclass(frozen=True)
class Backend:
    """The port(s) the load balancer may use toward ``role``'s hosts, and its protocol
    (``tls``: True = HTTPS, False = plain HTTP, None = not said: found out)."""

    role: str
    ports: tuple[int, ...]
    tls: bool | None
    declared: bool  # the site said which port (backends.<role> or backend_port)

    def describe(self) -> str:
        proto = {True: " TLS", False: " plain", None: ""}[self.tls]
        ports = " or ".join(map(str, self.ports))
        return f"{self.role} on {ports}{proto}" + ("" if self.declared else " (matrix)")


def backend_for(site: Site, role: str) -> Backend:
    """What the site says about ``role`` (app/realtime), else the matrix's candidates."""
    declared = site.lb_backends.get(role)
    if declared is not None:
        port, tls = declared
        return Backend(role, (port,), tls, True)
    if site.lb_backend_port:
        return Backend(role, (site.lb_backend_port,), None, True)
    return Backend(role, MATRIX_PORTS.get(role, (443,)), None, False)


def backends_of(site: Site, host: Host) -> list[Backend]:
    """The backends ``host`` stands for (app, realtime or both)."""
    return [backend_for(site, r) for r in BACKEND_ROLES if r in host.roles]


def ports_of(site: Site, host: Host) -> list[int]:
    """Every port the load balancer may use toward ``host``, in the order they are tried."""
    return list(dict.fromkeys(p for b in backends_of(site, host) for p in b.ports))


def protocol(tls: bool | None) -> str:
    return {True: "TLS", False: "plain HTTP", None: "TLS or plain HTTP"}[tls]


__all__ = ["BACKEND_ROLES", "MATRIX_PORTS", "Backend", "backend_for", "backends_of",
           "ports_of", "protocol"]
