"""Probes: gathering over the network, as a client of the site sees it.

Every call has a timeout; names are resolved only through the site's resolvers
(:mod:`rs_preflight.gather.names`), and connections go to an address with the name carried in
SNI and ``Host`` — the runner's own resolver is never asked. Probes return plain data or raise
:class:`ProbeError` saying why they could not gather; judging is for :mod:`rs_preflight.judge`.
"""

from __future__ import annotations

from collections.abc import Mapping

from rs_preflight.spec.errors import PreflightError


class ProbeError(PreflightError):
    """A probe could not gather (refused, timed out, no answer): the check's outcome is error."""


class Unreachable(ProbeError):
    """The address could not be connected to at all (refused, timed out, no route)."""


__all__ = ["ProbeError", "Unreachable", "web_names"]


def unreachable(seen: Mapping[tuple[str, str], object], address: str) -> Unreachable | None:
    """The error of an ``address`` that already refused or timed out in this run (``seen`` by
    (name, address)), so the other names cost no more time there."""
    return next((e for (_, a), e in seen.items()
                 if a == address and isinstance(e, Unreachable)), None)


def web_names(settings: dict[str, str], domain: str, tenant_label: str) -> list[str]:
    """The names a browser uses: the apex, a fresh tenant, and every predetermined name."""
    from rs_preflight.judge.dns import predetermined_names

    names = [domain, f"{tenant_label}.{domain}",
             *(n for n, _ in predetermined_names(settings, domain))]
    return list(dict.fromkeys(names))
