"""Lint of a site description: the mistakes a table of hosts can make by itself.

A site copied from a design document inherits the document's slips — the VoIP complex's table
(``seeds/001``) gives one IPv6 address to four hosts, one DNS name to two and a name outside the
zone (``couch2.db.rcsnet.ru1``). ``lint`` finds them in the description as written, each at the
line of the offending key, through the loader's ``Problem`` (``file:line: key.path: message``):

- **errors** (the site is refused, exit 4, like any invalid description):
  two hosts logged in to at one address (IPv4/IPv6 compared normalised, names without case or
  final dot; the same address on different SSH ports — a port-forwarding gateway — is two
  endpoints and fine); one DNS name (``hosts.*.fqdn``, ``floating_addresses.*.name``) for
  two hosts or addresses; a floating address that is also a host's own address, or declared
  twice. Each would make results lie: the facts of one machine reported for two hosts, a name's
  one answer judged against two addresses, a moving address taken for a fixed one.
- **warnings** (the run goes on; shown at load, in the run's ``warnings`` and results.json):
  a declared DNS name outside the site's domain (``domain:``, or R-Service's ``ITRP_DOMAIN``);
  one address for hosts of which at most one is logged in to (the others ``ssh: false``: they
  gather nothing, so nothing is misattributed — one server named twice).
  A host may live in another zone on purpose, and the name checks resolve it where it is; a
  typo such as ``.ru1`` shows up there as a name that does not resolve.

Only what the site file itself writes is linted (hosts of an ``inventory:`` are the
inventory's), and only names the site declares as DNS names: a host's key and ``address:`` are
where to connect (an ssh_config alias, a management name), not claims about the zone.

>>> from rs_preflight.spec.yamlsrc import load_yaml
>>> doc = load_yaml("hosts:\\n  a: {address: 10.0.0.1}\\n  b: {address: 10.0.0.1}\\n", "s.yaml")
>>> [p.line for p in lint(doc, domain=None).errors]
[3]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rs_preflight.spec.addresses import in_domain, is_dns_name, is_ip, normal_address
from rs_preflight.spec.errors import Problem
from rs_preflight.spec.yamlsrc import Path_, SourceDoc

NOT_CONNECTED = ("local", "docker")  # connections that never use the host's address


@dataclass(frozen=True)
class Lint:
    """What the lint found: errors refuse the site, warnings are reported with the run."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def lint(doc: SourceDoc, domain: str | None, ssh_port: object = None) -> Lint:
    """Lint ``doc`` (the site's parsed YAML); ``domain`` the site's, None when it has none."""
    out = Lint()
    data = doc.data if isinstance(doc.data, Mapping) else {}
    hosts = _mapping(data.get("hosts"))
    floating = _mapping(data.get("floating_addresses"))
    _duplicate_addresses(doc, hosts, ssh_port, out)
    _floating_addresses(doc, hosts, floating, out)
    names = list(_names(hosts, floating))
    _duplicate_names(doc, names, out)
    if isinstance(domain, str) and domain:
        for owner, path, name in names:
            if not in_domain(name, domain):
                out.warnings.append(doc.problem(path, f"{name} is outside the site's domain "
                                                      f"{domain} ({owner})"))
    return out


def _mapping(value: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, Mapping)}


def _endpoint(raw: Mapping[str, Any], ssh_port: object) -> tuple[str, object] | None:
    """Where the host is reached: (normalised address, SSH port as written); None for a host
    whose address is not written or never used."""
    address = raw.get("address")
    if not isinstance(address, str) or raw.get("connection") in NOT_CONNECTED:
        return None
    if not (is_ip(address) or is_dns_name(address)):
        return None  # the loader reports a malformed address itself
    port = raw.get("port", ssh_port)
    return normal_address(address), port if isinstance(port, int | str) else repr(port)


def _duplicate_addresses(doc: SourceDoc, hosts: Mapping[str, Mapping[str, Any]],
                         ssh_port: object, out: Lint) -> None:
    sharing: dict[tuple[str, object], list[str]] = {}
    for name, raw in hosts.items():
        endpoint = _endpoint(raw, ssh_port)
        if endpoint is not None:
            sharing.setdefault(endpoint, []).append(name)
    for (_, _), names in sharing.items():
        if len(names) < 2:
            continue
        first = names[0]
        line = doc.line_of(("hosts", first, "address"))
        # Facts are gathered from the hosts logged in to: two of those at one address would be
        # one machine's facts reported for both. Hosts checked over the network only (ssh:
        # false) gather nothing: several names for one server is a smell, not a lie.
        logged_in = [n for n in names if hosts[n].get("ssh") is not False]
        for other in names[1:]:
            address = hosts[other]["address"]
            where = f"{address} is also the address of host {first} (line {line})"
            if len(logged_in) >= 2:
                out.errors.append(doc.problem(
                    ("hosts", other, "address"),
                    f"{where}: one address, {len(names)} hosts ({', '.join(names)}); each "
                    f"host needs its own address"))
            else:
                out.warnings.append(doc.problem(
                    ("hosts", other, "address"),
                    f"{where}; nothing is logged in to there twice (ssh: false), but if they "
                    f"are one machine, one host with both roles says so"))


def _floating_addresses(doc: SourceDoc, hosts: Mapping[str, Mapping[str, Any]],
                        floating: Mapping[str, Mapping[str, Any]], out: Lint) -> None:
    fixed = {normal_address(raw["address"]): name for name, raw in hosts.items()
             if isinstance(raw.get("address"), str)}
    seen: dict[str, str] = {}
    for label, raw in floating.items():
        address = raw.get("address")
        if not isinstance(address, str) or not is_ip(address):
            continue  # the loader says what is wrong with it
        key = normal_address(address)
        path = ("floating_addresses", label, "address")
        if key in fixed:
            out.errors.append(doc.problem(path, (
                f"{address} is host {fixed[key]}'s own address (line "
                f"{doc.line_of(('hosts', fixed[key], 'address'))}); a floating address moves "
                f"between the hosts of its pair and must be none of theirs")))
        if key in seen:
            out.errors.append(doc.problem(path, (
                f"{address} is also the floating address {seen[key]} (line "
                f"{doc.line_of(('floating_addresses', seen[key], 'address'))})")))
        seen.setdefault(key, label)


def _names(hosts: Mapping[str, Mapping[str, Any]], floating: Mapping[str, Mapping[str, Any]]
           ) -> Iterator[tuple[str, Path_, str]]:
    """The DNS names the site declares: (owner, key path, name)."""
    for name, raw in hosts.items():
        if isinstance(raw.get("fqdn"), str) and is_dns_name(raw["fqdn"]):
            yield f"host {name}", ("hosts", name, "fqdn"), raw["fqdn"]
    for label, raw in floating.items():
        if isinstance(raw.get("name"), str) and is_dns_name(raw["name"]):
            yield f"floating address {label}", ("floating_addresses", label, "name"), raw["name"]


def _duplicate_names(doc: SourceDoc, names: list[tuple[str, Path_, str]], out: Lint) -> None:
    first: dict[str, tuple[str, Path_]] = {}
    for owner, path, name in names:
        key = normal_address(name)
        if key in first:
            other, where = first[key]
            out.errors.append(doc.problem(path, f"{name} is also the DNS name of {other} "
                                                f"(line {doc.line_of(where)}); a name "
                                                f"belongs to one host or floating address"))
        else:
            first[key] = (owner, path)


__all__ = ["Lint", "lint"]
