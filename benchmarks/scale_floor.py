"""The SSH floor for ``benchmarks/scale.py``: the least a runner can do to read ~40 facts a host.

One paramiko connection per host (TCP_NODELAY, host keys checked against a known_hosts file
parsed once, unknown keys rejected), ONE remote command printing about 40 facts, hosts in
parallel threads.
Nothing is parsed, judged or reported: this is the transport's cost, the bound rs-preflight is
measured against.

    python3 benchmarks/scale_floor.py HOSTS.json

HOSTS.json: ``{"user", "identity_file", "known_hosts", "connect_timeout", "workers",
"addresses": [...]}``. Prints one line: hosts answered, hosts unreachable, lines read.
Exit code 0 when every host answered, 1 otherwise (still a valid measurement).
"""

from __future__ import annotations

import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import paramiko

# ~40 cheap facts, each a line or a few; the same kind of things the host gate reads.
FACTS = (
    "cat /etc/os-release", "uname -r", "uname -m", "hostname", "nproc",
    "grep MemTotal /proc/meminfo", "grep -c ^processor /proc/cpuinfo", "ulimit -Sn",
    "ulimit -Hn", "cat /proc/sys/fs/file-max", "cat /proc/sys/vm/max_map_count",
    "cat /proc/sys/net/core/somaxconn", "ls /etc/sysctl.d", "df -P /", "df -P /tmp",
    "df -P /var/lib", "cat /proc/loadavg", "cat /proc/uptime", "date +%s.%N",
    "cat /etc/timezone", "chronyc -n tracking", "docker version --format '{{.Server.Version}}'",
    "docker compose version --short", "cat /etc/docker/daemon.json", "pgrep -x dockerd",
    "pgrep -x Xorg", "pgrep -x clamd", "pgrep -x clacks", "pgrep -x delayed-job-periodic",
    "ss -Htln", "cat /sys/class/net/eth0/speed", "ip -o addr show", "lsblk -dno NAME,ROTA",
    "findmnt -no FSTYPE /mnt/rs-share", "id -u", "cat /proc/sys/kernel/pid_max",
    "cat /proc/sys/net/ipv4/ip_local_port_range", "systemctl is-system-running",
    "getconf PAGESIZE", "cat /etc/machine-id",
)
SCRIPT = "".join(f"echo '@@{n}'; {cmd} 2>&1\n" for n, cmd in enumerate(FACTS))


def one(address: str, cfg: dict[str, Any], known: paramiko.HostKeys) -> int:
    """Lines printed by ``address``; -1 when it could not be reached."""
    timeout = float(cfg["connect_timeout"])
    client = paramiko.SSHClient()
    # Only this host's keys, from the file parsed once: SSHClient.load_host_keys parses the
    # whole file per connection, and HostKeys.load is quadratic in its lines (PROFILE.md).
    for keytype, key in (known.lookup(address) or {}).items():
        client.get_host_keys().add(address, keytype, key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        sock = socket.create_connection((address, 22), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.connect(address, 22, username=cfg["user"], key_filename=cfg["identity_file"],
                       sock=sock, timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
                       look_for_keys=False, allow_agent=False)
        _, stdout, _ = client.exec_command(SCRIPT, timeout=30)
        return len(stdout.read().splitlines())
    except (OSError, paramiko.SSHException):
        return -1
    finally:
        client.close()


def main(path: str) -> int:
    cfg = json.loads(Path(path).read_text())
    addresses = cfg["addresses"]
    known = paramiko.HostKeys(cfg["known_hosts"])
    with ThreadPoolExecutor(max(1, min(int(cfg["workers"]), len(addresses)))) as pool:
        lines = list(pool.map(lambda a: one(a, cfg, known), addresses))
    down = sum(1 for n in lines if n < 0)
    print(f"floor: {len(lines) - down} answered, {down} unreachable, "
          f"{sum(n for n in lines if n > 0)} lines")
    return 1 if down else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
