"""Hosts from an Ansible inventory (INI or YAML), read by ansible-core's own parser.

Groups named like roles (``app``, ``job``, ...) become roles; ``ansible_host``,
``ansible_port`` and ``ansible_user`` (or their ``ansible_ssh_*`` spellings) become address,
port and user; ``ansible_ssh_private_key_file`` the host's key; a jump host in
``ansible_ssh_common_args`` / ``ansible_ssh_extra_args`` (``-J [user@]host[:port]`` or
``-o ProxyJump=...``) its jump host. ``-o ProxyCommand=...`` is out of scope (rs-preflight runs
no local commands to reach a host): such a host is a problem naming it. ansible-core is an
optional dependency (``pip install rs-preflight[ansible]``), imported only when used.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from rs_preflight.spec.addresses import why_not_address, why_not_port
from rs_preflight.spec.errors import Problem
from rs_preflight.spec.hosts import Host


def load_inventory(path: Path, roles: Sequence[str]) -> tuple[list[Host], list[Problem]]:
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
        jump, why = ssh_jump(" ".join(str(hvars.get(k) or "") for k in
                                      ("ansible_ssh_common_args", "ansible_ssh_extra_args")))
        port, address = _var(hvars, "port"), str(_var(hvars, "host") or ahost.name)
        if not why and port:
            why = why_not_port(int(port) if port.isdigit() else port)
        why = why or why_not_address(address)
        if why:
            problems.append(Problem(str(path), 1, f"inventory.{ahost.name}", why))
            continue
        key = _var(hvars, "ssh_private_key_file") or _var(hvars, "private_key_file")
        hosts.append(Host(name=ahost.name, address=address,
                          roles=host_roles, port=int(port) if port else None,
                          user=_var(hvars, "user"), jump_host=jump,
                          identity_file=_key_path(key, path) if key else None))
    return hosts, problems


def _var(hvars: Mapping[str, object], name: str) -> str | None:
    """``ansible_<name>``, else the older ``ansible_ssh_<name>``."""
    value = hvars.get(f"ansible_{name}", hvars.get(f"ansible_ssh_{name}"))
    return str(value) if value is not None else None


def _key_path(value: str, inventory: Path) -> Path:
    key = Path(os.path.expanduser(value))
    return key if key.is_absolute() else inventory.resolve().parent / key


def ssh_jump(args: str) -> tuple[str | None, str | None]:
    """(jump host, problem) from ssh arguments: ``-J x``, ``-Jx``, ``-o ProxyJump=x``.

    >>> ssh_jump("-o StrictHostKeyChecking=yes -J admin@bastion:2222")
    ('admin@bastion:2222', None)
    """
    try:
        words = shlex.split(args)
    except ValueError as exc:
        return None, f"ansible_ssh_common_args: cannot split {args!r}: {exc}"
    jump: str | None = None
    for i, word in enumerate(words):
        option = None
        if word == "-J" and i + 1 < len(words):
            jump = words[i + 1]
        elif word.startswith("-J") and len(word) > 2:
            jump = word[2:]
        elif word == "-o" and i + 1 < len(words):
            option = words[i + 1]
        elif word.startswith("-o") and len(word) > 2:
            option = word[2:]
        if option is None:
            continue
        name, _, value = option.replace("=", " ", 1).partition(" ")
        if name.lower() == "proxyjump":
            jump = value.strip()
        elif name.lower() == "proxycommand":
            return None, ("ansible_ssh_common_args: ProxyCommand is not supported (rs-preflight "
                          "runs no local command to reach a host): use -J / ProxyJump")
    return jump, None
