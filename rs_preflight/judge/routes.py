"""Judges of the names a host routes (a reverse proxy's Host rules, seeds/002): each resolves
to the host. Their certificates and redirects are judged by :mod:`rs_preflight.judge.tls`.

>>> resolves_to("dir.tapbot.kz", ["192.0.2.102"], {"192.0.2.102"}).outcome
'passed'
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rs_preflight.spec.results import Verdict, failed, passed


def resolves_to(name: str, found: Sequence[str], host_addresses: Collection[str]) -> Verdict:
    """``name`` resolves (A/AAAA at the site's resolvers) to one of the host's addresses —
    every address it resolves to, so that no client lands elsewhere."""
    want = f"{name} → {', '.join(sorted(host_addresses))}"
    shown = ", ".join(found) or "no A/AAAA record"
    if not found:
        return failed(f"{name} does not resolve at the site's resolvers", want, shown)
    elsewhere = [a for a in found if a not in host_addresses]
    if elsewhere:
        return failed(f"{name} resolves to {', '.join(elsewhere)}, not to the host that "
                      "routes it", want, shown)
    return passed(f"{name} resolves to the host", want, shown)


__all__ = ["resolves_to"]
