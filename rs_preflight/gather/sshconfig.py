"""How a host is reached over SSH: the site's keys, then ``ssh_config``, then the defaults.

Admins already describe their hosts in ``~/.ssh/config`` (or the file the site names as
``ssh.config``); it is read with ``paramiko.SSHConfig``, so ``Host`` patterns, ``Match`` and
tokens work as paramiko implements them. Used: ``HostName``, ``User``, ``Port``,
``IdentityFile``, ``ProxyJump`` (one or more hops, each hop looked up in the same file) and
``UserKnownHostsFile``. Not used: ``ProxyCommand`` (a host that needs it is an error naming it:
use ``ProxyJump``), ``StrictHostKeyChecking`` (host keys are always checked as the site's
``ssh.host_key_policy`` says) and a hop's own ``ProxyJump``.

Precedence is OpenSSH's "the command line wins": what the site says for the host
(``hosts.X.user``, ``port``, ``identity_file``, ``jump_host`` — also from an Ansible inventory),
then what it says for every host (``ssh.user``, ``ssh.port``, ``ssh.identity_file``,
``ssh.jump_host``), then ``ssh_config``, then the defaults (port 22, the login user).

>>> cfg = paramiko.SSHConfig.from_text("Host app1\\n HostName 10.0.0.11\\n Port 2222\\n")
>>> route(Host("app1", "app1", ("app",)), SshSettings(), cfg).target
Hop(address='10.0.0.11', port=2222, user=None, identity_files=())
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from rs_preflight.spec.errors import HostUnreachable
from rs_preflight.spec.site import Host, SshSettings

DEFAULT_CONFIG = Path("~/.ssh/config")


@dataclass(frozen=True)
class Hop:
    """One SSH connection: where to, as whom, with which keys."""

    address: str
    port: int
    user: str | None
    identity_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """The target and the jump hosts before it (first hop first)."""

    target: Hop
    jumps: tuple[Hop, ...] = ()
    known_hosts: tuple[Path, ...] = ()  # ssh_config's UserKnownHostsFile (site's wins)


@functools.cache
def _parse(path: Path) -> paramiko.SSHConfig:
    return paramiko.SSHConfig.from_path(str(path))


def load_config(path: Path | None) -> paramiko.SSHConfig | None:
    """The site's ``ssh.config``, else ``~/.ssh/config`` if there is one, else None."""
    chosen = path or DEFAULT_CONFIG.expanduser()
    if not chosen.is_file():
        return None
    try:
        return _parse(chosen.resolve())
    except (OSError, paramiko.ConfigParseError) as exc:
        raise HostUnreachable(f"cannot read the ssh_config {chosen}: {exc}") from exc


def _lookup(config: paramiko.SSHConfig | None, name: str) -> dict[str, Any]:
    return dict(config.lookup(name)) if config is not None else {}


def _hop(spec: str, config: paramiko.SSHConfig | None, user: str | None,
         identity: str | None) -> Hop:
    """A jump host ``[user@]host[:port]`` (host may be an ssh_config alias)."""
    login, _, rest = spec.rpartition("@")
    name, port = rest, ""
    if rest.startswith("["):  # [IPv6]:port
        name, _, tail = rest[1:].partition("]")
        port = tail.lstrip(":")
    elif rest.count(":") == 1:
        name, _, port = rest.partition(":")
    found = _lookup(config, name)
    keys = (identity,) if identity else tuple(str(k) for k in found.get("identityfile", []))
    return Hop(address=str(found.get("hostname", name)),
               port=int(port or found.get("port", 22)),
               user=login or user or _str(found.get("user")), identity_files=keys)


def _str(value: object) -> str | None:
    return str(value) if value is not None else None


def route(host: Host, ssh: SshSettings, config: paramiko.SSHConfig | None) -> Route:
    """Where and how to connect to ``host``, and through which jump hosts."""
    found = _lookup(config, host.address)
    identity = host.identity_file or ssh.identity_file
    keys = ((str(identity),) if identity
            else tuple(str(k) for k in found.get("identityfile", [])))
    user = host.user or ssh.user or _str(found.get("user"))
    target = Hop(address=str(found.get("hostname", host.address)),
                 port=int(host.port or ssh.port or found.get("port", 22)),
                 user=user, identity_files=keys)
    jump = host.jump_host or ssh.jump_host or _str(found.get("proxyjump"))
    if not jump and found.get("proxycommand") and str(found["proxycommand"]).lower() != "none":
        raise HostUnreachable(
            f"the ssh_config entry of {host.address} uses ProxyCommand, which rs-preflight does "
            "not run: use ProxyJump (or ssh.jump_host / hosts.X.jump_host in the site)")
    jumps = () if not jump or jump.lower() == "none" else tuple(
        _hop(spec.strip(), config, ssh.user, str(ssh.identity_file) if ssh.identity_file
             else None) for spec in jump.split(","))
    known = tuple(Path(os.path.expanduser(p))
                  for p in str(found.get("userknownhostsfile", "")).split() if p)
    return Route(target, jumps, known)
