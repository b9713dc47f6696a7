"""A host of the site, as the site description (or an Ansible inventory) gives it. Spec.

Below both :mod:`rs_preflight.spec.site` (which loads the description) and
:mod:`rs_preflight.spec.inventory` (which reads hosts from an inventory for it), so neither imports
the other's caller; ``rs_preflight.spec.site.Host`` is this class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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


__all__ = ["Host"]
