"""RS-NET-*: the host's network link (guide §8.5). Pure.

Input is the ``links`` fact: which interface carries each address, and each interface's speed
(Mb/s; None when the driver does not say, as virtual NICs do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed


def link_speed(links: Mapping[str, Any], address: str, minimum: int) -> Verdict:
    """RS-NET-01: the link carrying ``address`` runs at ``minimum`` Mb/s or more. Where that
    cannot be told (no interface carries the address as the host sees it, or the link reports
    no speed) it passes as information, saying so."""
    iface = links["addresses"].get(address)
    expected = f">= {minimum} Mb/s"
    if iface is None:
        return passed(f"no interface carries {address} as seen on the host (NAT or a name): "
                      "link speed not judged (info)", expected, "unknown")
    speed = links["speeds"].get(iface)
    if speed is None:
        return passed(f"{iface} does not report a speed (virtual NIC): recorded as info",
                      expected, "unknown")
    if speed < minimum:
        return failed(f"{iface} runs at {speed} Mb/s", expected, f"{speed} Mb/s")
    return passed(f"{iface} runs at {speed} Mb/s", expected, f"{speed} Mb/s")


__all__ = ["link_speed"]
