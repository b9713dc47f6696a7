"""Hosts from an Ansible inventory (INI or YAML), read by ansible-core's own parser.

Groups named like roles (``app``, ``job``, ...) become roles; ``ansible_host``,
``ansible_port`` and ``ansible_user`` become address, port and user. ansible-core is an
optional dependency (``pip install rs-preflight[ansible]``), imported only when used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Problem

if TYPE_CHECKING:
    from .site import Host


def load_inventory(path: Path, roles: Sequence[str]) -> tuple[list[Host], list[Problem]]:
    from .site import Host

    try:
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
    except ImportError:
        return [], [Problem(str(path), 1, "inventory",
                            "reading an Ansible inventory needs ansible-core "
                            "(pip install 'rs-preflight[ansible]')")]
    try:
        manager = InventoryManager(loader=DataLoader(), sources=[str(path)])
    except Exception as exc:  # ansible raises many kinds; all mean "cannot parse"
        return [], [Problem(str(path), 1, "inventory", f"cannot parse: {exc}")]
    hosts: list[Host] = []
    problems: list[Problem] = []
    for ahost in manager.get_hosts():
        groups = {g.name for g in ahost.get_groups()}
        host_roles = tuple(r for r in roles if r in groups)
        if not host_roles:
            problems.append(Problem(str(path), 1, f"inventory.{ahost.name}",
                                    f"in no group named like a role ({', '.join(roles)})"))
            continue
        hvars = ahost.get_vars()
        port = hvars.get("ansible_port")
        hosts.append(Host(name=ahost.name, address=str(hvars.get("ansible_host", ahost.name)),
                          roles=host_roles, port=int(port) if port else None,
                          user=hvars.get("ansible_user")))
    return hosts, problems
