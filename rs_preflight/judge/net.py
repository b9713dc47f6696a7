"""The host's network: its link (RS-NET-01, guide §8.5) and the floating addresses it holds
(VOIP-FLOAT-01). Pure.

Input is the ``links`` fact: which interface carries each address (``ip -o addr show``), the
addresses whose duplicate address detection failed, and each interface's speed (Mb/s; None
when the driver does not say, as virtual NICs do).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, error, failed, passed


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


def floating_held(address: str, pair: Sequence[tuple[str, Mapping[str, Any] | str]]
                  ) -> Verdict:
    """VOIP-FLOAT-01 for one floating ``address``: exactly one host of its ``pair`` holds it.

    ``pair`` is each host with its ``links`` fact, or why it could not be read (unreachable,
    ``ssh: false``). No holder: the service is down; two: split brain — said even when a third
    host could not be read (two holders are wrong whatever it holds). One holder while a host
    could not be read is an error: that host may hold it too. An address whose duplicate
    address detection failed on a host is not held there (the kernel does not use it), and
    is named.

    >>> floating_held("fd00::9", [("a", {"addresses": {"fd00::9": "eth0"}}),
    ...                           ("b", {"addresses": {"fd00::2": "eth0"}})]).message
    'a holds fd00::9 (b does not)'
    """
    addr = _norm(address)
    names = [h for h, _ in pair]
    expected = f"exactly one of {', '.join(names)} holds {addr}"
    holders: list[str] = []
    unknown: list[str] = []
    seen: list[str] = []
    for host, links in pair:
        if isinstance(links, str):
            unknown.append(f"{host} ({links})")
            seen.append(f"{host}: unknown")
            continue
        mine = {_norm(a) for a in links.get("addresses", {})}
        dad = {_norm(a) for a in links.get("dadfailed", ())}
        if not mine:
            unknown.append(f"{host} (ip -o addr show listed no address)")
            seen.append(f"{host}: unknown")
        elif addr in mine - dad:
            holders.append(host)
            seen.append(f"{host}: holds it")
        else:
            seen.append(f"{host}: " + ("has it, duplicate address detection failed"
                                       if addr in dad else "does not"))
    found = ", ".join(seen)
    if len(holders) > 1:
        return failed(f"split brain: {_both(holders)} hold {addr}", expected, found)
    if unknown:
        return error(f"cannot tell who holds {addr}: the addresses of "
                     f"{', '.join(unknown)} could not be read")
    if not holders:
        return failed(f"service down: no host of {', '.join(names)} holds {addr}", expected,
                      found)
    rest = [h for h in names if h != holders[0]]
    return passed(f"{holders[0]} holds {addr} ({', '.join(rest)} "
                  f"{'does' if len(rest) == 1 else 'do'} not)", expected, found)


def _both(hosts: Sequence[str]) -> str:
    if len(hosts) == 2:
        return f"both {hosts[0]} and {hosts[1]}"
    return f"all of {', '.join(hosts[:-1])} and {hosts[-1]}"


def _norm(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%")[0]))
    except ValueError:
        return address


__all__ = ["floating_held", "link_speed"]
