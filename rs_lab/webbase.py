"""HTTP plumbing for the lab's small stdlib servers (echo backends, the search stand-in).

They run as ``python -m rs_lab.<module>`` inside a namespace (started by a
:class:`~rs_lab.service.LabService`); this module needs only the standard library.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["LabHTTPServer", "serve_http"]


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
