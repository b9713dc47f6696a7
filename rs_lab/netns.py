"""Network namespaces on one lab bridge: the bottom layer every lab host and service uses.

The runner (this machine's root namespace) holds the bridge and its ``.1`` addresses, so tests
reach every lab address directly. Lab namespaces get **no default route**: anything that is not
a lab address fails locally with ENETUNREACH (``../shared/LAB.md``, "Safety first").

Processes are tracked by PID and ended by PID (TERM, then KILL); teardown also sweeps every
namespace whose name starts with the prefix, so a crashed run is cleaned by the next one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = os.environ.get("RS_LAB_PREFIX", "rsl")
# One /24 and one /64 per lab; RS_LAB_NET picks another second octet if two labs must coexist.
# RS_LAB_NET_PREFIXLEN=16 widens the IPv4 net inside 10.<net>.0.0/16 (still this lab's own) for
# more than 253 hosts (benchmarks/scale.py); host index n is then 10.<net>.<n // 256>.<n % 256>.
NET_INDEX = int(os.environ.get("RS_LAB_NET", "213"))
SUBNET4 = ipaddress.ip_network(
    f"10.{NET_INDEX}.0.0/{int(os.environ.get('RS_LAB_NET_PREFIXLEN', '24'))}")
SUBNET6 = ipaddress.ip_network(f"fd00:{NET_INDEX}::/64")
GATEWAY4 = str(SUBNET4.network_address + 1)
GATEWAY6 = str(SUBNET6.network_address + 1)
BRIDGE = f"{PREFIX}br0"


class LabError(RuntimeError):
    """A lab component could not be set up."""


def sh(argv: Sequence[str], *, check: bool = True, timeout: float = 30,
       input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command on the runner; raise LabError with its stderr when it fails."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)!r} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


def addr4(index: int) -> str:
    """The lab IPv4 address of host number ``index`` (2..254)."""
    return str(SUBNET4.network_address + index)


def addr6(index: int) -> str:
    """The lab IPv6 address of host number ``index``."""
    return str(SUBNET6.network_address + index)


def bridge_up() -> None:
    """Create the lab bridge with the runner's gateway addresses (idempotent)."""
    if sh(["ip", "link", "show", BRIDGE], check=False).returncode == 0:
        return
    sh(["ip", "link", "add", BRIDGE, "type", "bridge"])
    sh(["ip", "addr", "add", f"{GATEWAY4}/{SUBNET4.prefixlen}", "dev", BRIDGE])
    sh(["ip", "-6", "addr", "add", f"{GATEWAY6}/{SUBNET6.prefixlen}", "dev", BRIDGE, "nodad"])
    sh(["ip", "link", "set", BRIDGE, "up"])


def bridge_down_if_unused() -> bool:
    """Remove the lab bridge once nothing is attached to it (every lab of the prefix shares
    it); True when it was removed."""
    if sh(["ip", "link", "show", BRIDGE], check=False).returncode != 0:
        return False
    if sh(["ip", "-o", "link", "show", "master", BRIDGE], check=False).stdout.strip():
        return False
    sh(["ip", "link", "del", BRIDGE], check=False)
    return True


def ns_pids(name: str) -> list[int]:
    """PIDs of every process living in namespace ``name``."""
    out = sh(["ip", "netns", "pids", name], check=False).stdout
    return [int(p) for p in out.split()]


def end_pids(pids: Sequence[int], grace: float = 3.0) -> None:
    """TERM the given PIDs, then KILL whatever is left after ``grace`` seconds.

    Each process is held by a pidfd from the start, so a signal never reaches another process
    that was given a number back in the meantime (on a busy machine, with pid_max 32768, a
    finished process's number is soon someone else's: a thread of this very runner, once).
    Pass only processes not yet waited for (:func:`live` for our own children)."""
    fds: list[int] = []
    for pid in dict.fromkeys(pids):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            fds.append(os.pidfd_open(pid))
    try:
        for fd in fds:
            _signal(fd, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not all(_exited(fd) for fd in fds):
            time.sleep(0.05)
        for fd in fds:
            if not _exited(fd):
                _signal(fd, signal.SIGKILL)
    finally:
        for fd in fds:
            os.close(fd)


def live(procs: Iterable[subprocess.Popen[Any]]) -> list[int]:
    """The PIDs of those of our children not yet waited for: a waited-for child's number is
    free, and may be another process's by now."""
    return [p.pid for p in procs if p.returncode is None]


def _signal(pidfd: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(pidfd, sig)


def _exited(pidfd: int) -> bool:
    """True once the process has ended (a zombie, not yet reaped by its parent, included)."""
    return bool(select.select([pidfd], [], [], 0)[0])


@dataclass
class Namespace:
    """One network namespace on the lab bridge, with one IPv4 and one IPv6 address.

    >>> ns = Namespace("dns", lease.take()).create()    # an index from rs_lab.indices
    >>> ns.popen(["named", "-g", "-c", conf])
    >>> ns.destroy()
    """

    short: str
    index: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.short}"

    @property
    def ipv4(self) -> str:
        return addr4(self.index)

    @property
    def ipv6(self) -> str:
        return addr6(self.index)

    @property
    def veth(self) -> str:
        return f"{PREFIX}v{self.index}"

    def create(self) -> Namespace:
        bridge_up()
        sh(["ip", "netns", "add", self.name])
        sh(["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0",
            "netns", self.name])
        sh(["ip", "link", "set", self.veth, "master", BRIDGE, "up"])
        ip = ["ip", "netns", "exec", self.name, "ip"]
        sh([*ip, "link", "set", "lo", "up"])
        sh([*ip, "addr", "add", f"{self.ipv4}/{SUBNET4.prefixlen}", "dev", "eth0"])
        sh([*ip, "-6", "addr", "add", f"{self.ipv6}/{SUBNET6.prefixlen}", "dev", "eth0",
            "nodad"])
        sh([*ip, "link", "set", "eth0", "up"])
        # A namespace re-created with the same index has a new MAC; the runner's stale
        # ARP/NDP entry would keep traffic going to the old one for 15-45 s.
        for addr in (self.ipv4, self.ipv6):
            sh(["ip", "neigh", "flush", "to", addr, "dev", BRIDGE], check=False)
        return self

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 30,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a short command inside the namespace and wait for it."""
        return sh(self.exec_argv(argv), check=check, timeout=timeout, input=input)

    def popen(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              log: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a long-running process inside the namespace; it is ended by ``destroy``."""
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
        full_env = {**os.environ, **env} if env is not None else None
        try:
            proc = subprocess.Popen(self.exec_argv(argv), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=full_env,
                                    start_new_session=True)
        finally:  # the child has its own copy; ours would leak (ResourceWarning)
            if log:
                out.close()  # type: ignore[union-attr]
        self.procs.append(proc)
        return proc

    def destroy(self) -> None:
        end_pids(live(self.procs) + ns_pids(self.name))
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        self.procs.clear()
        sh(["ip", "netns", "del", self.name], check=False)
        sh(["ip", "link", "del", self.veth], check=False)


def check_free(ns: Namespace) -> None:
    """Refuse a name or index already in use (another lab, a service, a stale run)."""
    if sh(["ip", "netns", "pids", ns.name], check=False).returncode == 0:
        raise LabError(f"namespace {ns.name} exists (stale? see sweep_hosts())")
    if sh(["ip", "link", "show", ns.veth], check=False).returncode == 0:
        raise LabError(f"index {ns.index} is taken: {ns.veth} exists")


def clear_leftover(ns: Namespace) -> None:
    """Remove a crashed run's namespace of this very name (names carry the lab prefix and an
    index the allocator handed out), then refuse an index that someone else holds."""
    if sh(["ip", "netns", "pids", ns.name], check=False).returncode == 0:
        # By name only: its veth pair goes with it (the index in a name-only namespace like
        # "s0mail" may have been another one, and ours may be someone else's veth).
        end_pids(ns_pids(ns.name))
        sh(["ip", "netns", "del", ns.name], check=False)
    check_free(ns)


def create_fresh(ns: Namespace) -> Namespace:
    """:func:`clear_leftover`, then create ``ns``."""
    clear_leftover(ns)
    return ns.create()


def wait_port(ns: Namespace | None, host: str, port: int, timeout: float = 10.0) -> None:
    """Wait until ``host:port`` accepts TCP connections (seen from the runner)."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                where = ns.name if ns else "runner"
                raise LabError(f"{host}:{port} ({where}) not listening after {timeout}s") from exc
            time.sleep(0.05)


def sweep(prefix: str = PREFIX) -> list[str]:
    """Remove every namespace, veth and bridge named with ``prefix``; return what was removed.

    Safe after a crash: picks victims by name only, ends their processes by PID.
    """
    removed: list[str] = []
    for line in sh(["ip", "netns", "list"], check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(f"{prefix}-"):
            end_pids(ns_pids(name))
            sh(["ip", "netns", "exec", name, "ss", "-K", "-a", "-t", "-u"], check=False)
            sh(["ip", "netns", "del", name], check=False)
            removed.append(name)
    for line in sh(["ip", "-o", "link", "show"], check=False).stdout.splitlines():
        dev = line.split(":")[1].strip().split("@")[0]
        if (dev.startswith(f"{prefix}v") and dev[len(prefix) + 1:].isdigit()) or \
                dev == f"{prefix}br0":
            sh(["ip", "link", "del", dev], check=False)
            removed.append(dev)
    return removed
