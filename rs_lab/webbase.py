"""Shared plumbing for the lab's web-side services (DNS, load balancers, echo, search stand-in).

Each service runs in a :class:`~rs_lab.netns.Namespace` that it is given (and leaves alone on
``stop``) or that it creates from an index (and destroys on ``stop``). Processes are started with
``Namespace.popen`` and ended by PID.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rs_lab.netns import BRIDGE, LabError, Namespace, end_pids, sh

REPO = Path(__file__).resolve().parent.parent


class LabHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server on one address, IPv4 or IPv6 (v6-only, so both can listen)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def serve_http(hosts: list[str], port: int, handler: type[BaseHTTPRequestHandler],
               cert: str | None = None, key: str | None = None, name: str = "") -> None:
    """Serve ``handler`` on every host (one listener each, TLS with ``cert``/``key``) until
    the process is killed."""
    servers = [LabHTTPServer(h, port, handler) for h in hosts]
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        for srv in servers:
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    sys.stderr.write(f"{name + ' ' if name else ''}listening on {hosts} port {port}\n")
    sys.stderr.flush()
    for t in threads:
        t.join()


def forget_neighbours(ns: Namespace) -> None:
    """Drop the runner's ARP/NDP entries for ``ns``'s addresses.

    A namespace re-created with the same index gets a new MAC; the runner's entry for that
    address may still be REACHABLE with the old MAC, and then nothing reaches the new namespace
    for 15–45 s (frames go to the dead MAC). Seen when the same index is reused within a second.
    """
    for addr in (ns.ipv4, ns.ipv6):
        sh(["ip", "neigh", "flush", "to", addr, "dev", BRIDGE], check=False)


class Service:
    """Base: owns (or borrows) a namespace and a work dir; context manager around start/stop."""

    short = "svc"

    def __init__(self, ns: Namespace | int, workdir: Path) -> None:
        if isinstance(ns, Namespace):
            self.ns, self._own_ns = ns, False
        else:
            self.ns, self._own_ns = Namespace(f"{self.short}{ns}", ns), True
        self.workdir = Path(workdir)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.startup_seconds: float | None = None

    # -- addresses -----------------------------------------------------------------------------
    @property
    def ipv4(self) -> str:
        return self.ns.ipv4

    @property
    def ipv6(self) -> str:
        return self.ns.ipv6

    @property
    def addresses(self) -> list[str]:
        return [self.ns.ipv4, self.ns.ipv6]

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self):
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._own_ns:
            self.ns.create()
            forget_neighbours(self.ns)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def popen(self, argv: list[str], log: str, env: dict[str, str] | None = None
              ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the namespace, output appended to ``workdir/log``; ended by PID."""
        full_env = {**os.environ, **env} if env is not None else None
        with open(self.workdir / log, "ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(self.ns.exec_argv(argv), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=full_env, start_new_session=True)
        self.ns.procs.append(proc)
        self.procs.append(proc)
        return proc

    def python_argv(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    @property
    def python_env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}

    def check_alive(self, proc: subprocess.Popen[bytes], log: str) -> None:
        if proc.poll() is not None:
            text = (self.workdir / log).read_text(errors="replace")[-3000:]
            raise LabError(f"{self.ns.name}: {proc.args!r} exited {proc.returncode}:\n{text}")

    def wait_tcp(self, port: int, proc: subprocess.Popen[bytes], log: str,
                 timeout: float = 10.0) -> None:
        """Wait until ``ipv4:port`` accepts, failing fast (with the log) if ``proc`` died."""
        import socket

        deadline = time.monotonic() + timeout
        while True:
            self.check_alive(proc, log)
            try:
                with socket.create_connection((self.ns.ipv4, port), timeout=0.5):
                    return
            except OSError as exc:
                if time.monotonic() > deadline:
                    diag = "\n".join(
                        self.ns.run(argv, check=False).stdout
                        for argv in (["ip", "-br", "addr"], ["ss", "-Hltn"], ["ip", "neigh"]))
                    raise LabError(f"{self.ns.name}: {self.ns.ipv4}:{port} not reachable "
                                   f"({exc}); inside:\n{diag}") from exc
                time.sleep(0.02)

    def stop(self) -> None:
        end_pids([p.pid for p in self.procs])
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        self.ns.procs[:] = [p for p in self.ns.procs if p not in self.procs]
        self.procs.clear()
        if self._own_ns:
            self.ns.destroy()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
