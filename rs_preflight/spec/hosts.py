"""A host of the site, as the site description (or an Ansible inventory) gives it. Spec.

Below both :mod:`rs_preflight.spec.site` (which loads the description) and
:mod:`rs_preflight.spec.inventory` (which reads hosts from an inventory for it), so neither imports
the other's caller; ``rs_preflight.spec.site.Host`` is this class.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rs_preflight.spec.addresses import is_ip, normal_address


@dataclass(frozen=True)
class Host:
    """One host of the site; ``connection`` says how its facts are gathered."""

    name: str
    address: str
    roles: tuple[str, ...]
    connection: str = "ssh"      # ssh | local | docker | ansible | none
    port: int | None = None
    user: str | None = None
    container: str | None = None
    identity_file: Path | None = None  # from an inventory's ansible_ssh_private_key_file
    jump_host: str | None = None       # from an inventory's ansible_ssh_common_args (-J)
    fqdn: str | None = None            # the host's own DNS name (``hosts.*.fqdn``)
    names: tuple[str, ...] = ()        # DNS names the host serves (``hosts.*.names``)

    @property
    def reachable(self) -> bool:
        """False for hosts checked over the network only (``ssh: false``)."""
        return self.connection != "none"


def spellings(host: Host) -> set[str]:
    """How others may name ``host``: its name, address, fqdn and names (normalised), and the
    first label of each DNS name (``couch1`` for ``couch1.db.rcsnet.ru``: RabbitMQ's short node
    names)."""
    full = {normal_address(w) for w in (host.name, host.address, host.fqdn or "", *host.names)
            if w}
    return full | {w.split(".")[0] for w in full if not is_ip(w)}


def host_called(word: str, hosts: Iterable[Host]) -> Host | None:
    """The first of ``hosts`` that ``word`` (a URL's host, a node name's host part) names.

    >>> host_called("COUCH2", [Host("db2", "192.0.2.42", ("db",), fqdn="couch2.example")]).name
    'db2'
    """
    wanted = normal_address(word.strip().strip("[]"))
    return next((h for h in hosts if wanted in spellings(h)), None)


__all__ = ["Host", "host_called", "spellings"]
