"""Redis in a lab namespace: Debian's real ``redis-server`` (7.0), our own instance and config.

The package's own service never starts (``policy-rc.d``; ``scripts/setup`` installs
``redis-server``); each :class:`RedisServer` runs ``redis-server <workdir>/redis.conf`` in the
foreground, listening on its namespace's lab IPv4 and IPv6 addresses and loopback, no
persistence, ended by PID. ``password`` sets ``requirepass`` (clients then AUTH).

>>> with RedisServer(lease.take(), work / "redis") as redis:     # or RedisServer(host.ns, …)
...     redis.client().ping()                                      # redis-py, by address
...     redis.client().info("server")["redis_version"]            # '7.0.15'
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from rs_lab.netns import LabError, Namespace
from rs_lab.service import LabService

if TYPE_CHECKING:
    import redis

__all__ = ["REDIS_PORT", "RedisServer"]

REDIS_PORT = 6379


class RedisServer(LabService):
    """One real Redis server (see the module docstring)."""

    short = "redis"

    def __init__(self, ns: Namespace | int, workdir: Path, *, port: int = REDIS_PORT,
                 password: str | None = None) -> None:
        super().__init__(ns, workdir)
        self.port, self.password = port, password

    @property
    def conf_path(self) -> Path:
        return self.workdir / "redis.conf"

    def config_text(self) -> str:
        lines = [f"bind {self.ipv4} {self.ipv6} 127.0.0.1", f"port {self.port}",
                 "daemonize no", 'logfile ""', f"dir {self.workdir}", 'save ""',
                 "appendonly no", "protected-mode no", "databases 16"]
        if self.password:
            lines.append(f"requirepass {self.password}")
        return "\n".join(lines) + "\n"

    def _start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise LabError("redis-server missing: scripts/setup installs it (apt redis-server)")
        self.conf_path.write_text(self.config_text())
        self.conf_path.chmod(0o600)  # the password, if any
        proc = self.popen([binary, str(self.conf_path)], "redis.log")
        self.wait_tcp(self.port, proc, "redis.log")

    def client(self, address: str | None = None) -> redis.Redis:
        """A redis-py client to ``address`` (default: ``ipv4``), with timeouts."""
        import redis

        return redis.Redis(host=address or self.ipv4, port=self.port, password=self.password,
                           socket_timeout=5, socket_connect_timeout=5, decode_responses=True)
