"""The naive suite for ``benchmarks/scale.py``: what a team writes first with pytest-testinfra.

Copied into a temporary folder as ``test_naive.py`` and run with testinfra's own paramiko
backend (``--hosts paramiko://root@ADDR,...``: Nagle on, any host key accepted with a warning)
and one remote command per check, hosts in series. The checks mirror the host gate of an app
host after installation; each only asserts that the command answered (the lab's bare hosts
would fail most requirements, and a failure's traceback is not the cost being measured).
Not a test of this project: ``scale.py`` runs it, pytest never collects it from here.
"""

from __future__ import annotations

from typing import Any

import pytest

COMMANDS = {
    "os_supported": "cat /etc/os-release",
    "no_display_server": "pgrep -x Xorg || pgrep -x Xwayland || true",
    "no_antivirus": "pgrep -x clamd || pgrep -x falcon-sensor || true",
    "docker_daemon": "docker version --format '{{.Server.Version}}'",
    "docker_compose": "docker compose version --short",
    "daemon_json": "cat /etc/docker/daemon.json",
    "nofile_soft": "ulimit -Sn",
    "nofile_hard": "ulimit -Hn",
    "dockerd_limits": "cat /proc/$(pgrep -xo dockerd)/limits",
    "file_max": "cat /proc/sys/fs/file-max",
    "max_map_count": "cat /proc/sys/vm/max_map_count",
    "sysctl_persisted": "grep -rh -e fs.file-max -e vm.max_map_count /etc/sysctl.d",
    "time_synced": "chronyc -n tracking",
    "time_source": "chronyc -n sources",
    "clock_offset": "date +%s.%N",
    "link_speed": "cat /sys/class/net/eth0/speed",
    "ports": "ss -Htln",
    "cpus": "nproc",
    "memory": "grep MemTotal /proc/meminfo",
    "boot_volume": "df -P /",
    "data_volume": "lsblk -dno NAME,ROTA",
    "storage": "findmnt -no FSTYPE /mnt/rs-share",
    "singletons": "pgrep -x clacks; pgrep -x delayed-job-periodic; true",
}


@pytest.mark.parametrize("check", sorted(COMMANDS))
def test_requirement(host: Any, check: str) -> None:
    result = host.run(COMMANDS[check])
    assert result.rc is not None
