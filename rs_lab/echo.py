"""A header-echo HTTP backend for the lab's load balancers (the server: stdlib only).

It stands where R-Service's nginx (app) and faye (realtime) stand behind the load balancer and
shows what the load balancer forwarded:

* any path → ``200`` JSON ``{"request_line", "method", "path", "version", "client": [ip, port],
  "headers": [[name, value], ...], "server", "backend": {"host", "port", "tls"}}`` (headers in
  arrival order, duplicates kept; ``backend``: this server's name, the port and protocol the
  request came in on);
* ``/teapot`` → ``200`` body ``I am a teapot`` (``--teapot-body`` makes it lie);
* ``/_gif`` → ``200`` a 1×1 GIF;
* ``Upgrade: websocket`` with ``Sec-WebSocket-Key`` → ``101 Switching Protocols`` with the
  RFC 6455 ``Sec-WebSocket-Accept`` (base64 of SHA-1 of key + GUID; no WebSocket library is
  installed on the lab machine), then one unmasked text frame holding the same JSON as above.

Run: ``python -m rs_lab.echo --listen 10.213.0.103 --listen fd00:213::103 --port 80
[--tls-cert chain.pem --tls-key key.pem] [--name app]``. :class:`EchoBackend` starts it
inside a namespace.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import ssl
import struct
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from rs_lab.netns import Namespace
from rs_lab.service import LabService
from rs_lab.webbase import serve_http

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEAPOT = "I am a teapot"
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def ws_accept(key: str) -> str:
    """RFC 6455 §4.2.2: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_text_frame(text: str) -> bytes:
    """One final, unmasked text frame (server → client)."""
    data = text.encode()
    if len(data) < 126:
        head = struct.pack("!BB", 0x81, len(data))
    elif len(data) < 65536:
        head = struct.pack("!BBH", 0x81, 126, len(data))
    else:
        head = struct.pack("!BBQ", 0x81, 127, len(data))
    return head + data


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rs-lab-echo"
    teapot_body = TEAPOT
    name = "echo"

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.client_address[0]} {format % args}\n")

    def _echo(self) -> dict[str, object]:
        return {"request_line": self.requestline, "method": self.command, "path": self.path,
                "version": self.request_version, "client": list(self.client_address[:2]),
                "headers": [[k, v] for k, v in self.headers.items()], "server": self.name,
                "backend": {"host": self.name, "port": self.connection.getsockname()[1],
                            "tls": isinstance(self.connection, ssl.SSLSocket)}}

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        upgrade = (self.headers.get("Upgrade") or "").lower()
        key = self.headers.get("Sec-WebSocket-Key")
        if upgrade == "websocket" and key:
            self.send_response(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", ws_accept(key.strip()))
            self.end_headers()
            self.wfile.write(ws_text_frame(json.dumps(self._echo())))
            self.wfile.flush()
            self.close_connection = True
            try:  # hold the socket until the client (or the proxy) closes it
                self.connection.settimeout(10)
                while self.connection.recv(4096):
                    pass
            except OSError:
                pass
            return
        path = self.path.split("?", 1)[0]
        if path == "/teapot":
            self._send(200, self.teapot_body.encode(), "text/plain")
        elif path == "/_gif":
            self._send(200, GIF, "image/gif")
        else:
            self._send(200, json.dumps(self._echo(), indent=1).encode() + b"\n",
                       "application/json")

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _handle


def serve(hosts: list[str], port: int, handler: type[BaseHTTPRequestHandler],
          cert: str | None = None, key: str | None = None) -> None:
    """Serve ``handler`` on every host (one listener each) until killed."""
    serve_http(hosts, port, handler, cert, key)


class EchoBackend(LabService):
    """The echo server in a namespace, on ``ipv4``, ``ipv6`` and loopback at ``port``.

    ``tls=(cert_or_chain_path, key_path)`` serves HTTPS instead of HTTP.
    """

    short = "echo"

    def __init__(self, ns: Namespace | int, workdir: Path, *, port: int = 80, name: str = "echo",
                 tls: tuple[Path, Path] | None = None, teapot_body: str = TEAPOT) -> None:
        super().__init__(ns, workdir)
        self.port, self.name, self.tls, self.teapot_body = port, name, tls, teapot_body

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def _start(self) -> None:
        args = ["--listen", self.ipv4, "--listen", self.ipv6, "--listen", "127.0.0.1",
                "--port", str(self.port), "--name", self.name,
                "--teapot-body", self.teapot_body]
        if self.tls:
            args += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        log = f"echo-{self.name}.log"
        proc = self.popen(self.python_argv("rs_lab.echo", *args), log, self.python_env)
        self.wait_tcp(self.port, proc, log)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", action="append", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--name", default="echo")
    ap.add_argument("--teapot-body", default=TEAPOT)
    args = ap.parse_args(argv)
    handler = type("Handler", (EchoHandler,), {"teapot_body": args.teapot_body,
                                               "name": args.name})
    serve(args.listen, args.port, handler, args.tls_cert, args.tls_key)


if __name__ == "__main__":
    main()
