"""rs-preflight's header-echo listener: runs on a backend host for a minute at most.

Shipped in the package and sent to the host over SSH by :mod:`rs_preflight.header_probe`
(``python3 -c <bootstrap> rs-preflight-header-probe <token>``, with this source, the settings
and a throwaway certificate on **stdin**, never in files or on the command line). Standard
library only, for the host's ``python3`` (3.7+). It

* binds the backend port on every address (``::`` dual stack, else ``0.0.0.0``) *before* it
  detaches, so a taken port is said at once: exit 3 and ``{"error": "taken", ...}`` on stdout;
* answers every request with ``200`` and JSON ``{"request_line", "method", "path", "version",
  "client": [ip, port], "headers": [[name, value], ...], "server", "probe"}`` — headers in
  arrival order, duplicates kept; the shape of the lab's ``rs_lab.echo``, plus ``probe``, the
  run's token — and an ``Upgrade: websocket`` request with ``101`` and the RFC 6455
  ``Sec-WebSocket-Accept``, then one text frame with the same JSON;
* speaks TLS or plain HTTP on the same port, told apart by the first byte a client sends
  (``0x16`` opens a TLS handshake): a load balancer may use either toward its backends;
* records nothing (no log, no files): the certificate goes through a private temporary folder
  (``mkdtemp``, mode 0700) only while ``ssl`` loads it, and that folder is removed before the
  listener serves;
* detaches (new session, stdio on ``/dev/null``, cwd ``/``) and ends itself at its deadline
  (``SIGALRM``'s default action), so an interrupted run can never leave it running.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
IDLE_S = 10          # an idle client (or a load balancer's idle keep-alive) is dropped after
TLS_RECORD = 0x16    # the first byte of a TLS ClientHello (RFC 8446 §5.1, handshake record)
BODY_MAX = 1 << 20   # request bodies are read (and dropped) up to this size


def ws_accept(key: str) -> str:
    """RFC 6455 §4.2.2: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def _text_frame(data: bytes) -> bytes:
    """One final, unmasked WebSocket text frame (server → client, RFC 6455 §5.2)."""
    if len(data) < 126:
        return struct.pack("!BB", 0x81, len(data)) + data
    if len(data) < 65536:
        return struct.pack("!BBH", 0x81, 126, len(data)) + data
    return struct.pack("!BBQ", 0x81, 127, len(data)) + data


def _client(address: Any) -> list[Any]:
    host = str(address[0])
    if host.startswith("::ffff:") and "." in host:  # an IPv4 client on the dual-stack socket
        host = host[len("::ffff:"):]
    return [host, address[1]]


class EchoHandler(BaseHTTPRequestHandler):
    """Answers with what arrived; ``token`` marks the answers as this run's listener's."""

    protocol_version = "HTTP/1.1"
    server_version = "rs-preflight-header-probe"
    sys_version = ""
    timeout = IDLE_S
    token = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Records nothing."""

    def _echo(self) -> bytes:
        return json.dumps({
            "request_line": self.requestline, "method": self.command, "path": self.path,
            "version": self.request_version, "client": _client(self.client_address),
            "headers": [[k, v] for k, v in self.headers.items()],
            "server": "rs-preflight", "probe": self.token}).encode()

    def _handle(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= BODY_MAX:
            self.rfile.read(length)
        key = (self.headers.get("Sec-WebSocket-Key") or "").strip()
        if (self.headers.get("Upgrade") or "").lower() == "websocket" and key:
            self._upgrade(key)
            return
        body = self._echo()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _upgrade(self, key: str) -> None:
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", ws_accept(key))
        self.end_headers()
        self.wfile.write(_text_frame(self._echo()))
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            if self.connection.recv(4096):   # the client's close frame (or anything): close
                self.connection.sendall(b"\x88\x00")

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _handle


def _serve_one(conn: socket.socket, address: Any, ctx: ssl.SSLContext | None,
               handler: type[EchoHandler]) -> None:
    try:
        conn.settimeout(IDLE_S)
        first = conn.recv(1, socket.MSG_PEEK)
        if not first:
            return
        if first[0] == TLS_RECORD and ctx is not None:
            conn = ctx.wrap_socket(conn, server_side=True)
        handler(conn, address, None)  # type: ignore[arg-type]
    except (OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def bind(port: int, address: str | None = None) -> socket.socket:
    """A listening socket on ``port``: every address (dual stack where IPv6 exists)."""
    candidates = [address] if address else ["::", "0.0.0.0"]
    for i, where in enumerate(candidates):
        family = socket.AF_INET6 if ":" in where else socket.AF_INET
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            if i + 1 < len(candidates):
                continue
            raise
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not over a listener
            if family == socket.AF_INET6 and not address:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((where, port))
            sock.listen(64)
            return sock
        except OSError as exc:
            sock.close()
            no_ipv6 = exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)
            if not (no_ipv6 and i + 1 < len(candidates)):
                raise
    raise OSError(errno.EADDRNOTAVAIL, "no address to bind")


def tls_context(cert_pem: str, key_pem: str) -> ssl.SSLContext:
    """A server context from PEM text, through a private folder removed before returning."""
    folder = tempfile.mkdtemp(prefix="rs-preflight-probe-")  # mode 0700, a new name
    try:
        paths = []
        for name, text in (("cert.pem", cert_pem), ("key.pem", key_pem)):
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            paths.append(path)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(paths[0], paths[1])
        return ctx
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def serve(sock: socket.socket, ctx: ssl.SSLContext | None, token: str, deadline: float) -> None:
    """Accept until ``deadline`` (monotonic); one thread per connection."""
    handler = type("Handler", (EchoHandler,), {"token": token})
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            conn, address = sock.accept()
        except socket.timeout:  # noqa: UP041 - not yet TimeoutError on the host's 3.9 (RHEL 9)
            continue
        except OSError:
            time.sleep(0.05)
            continue
        threading.Thread(target=_serve_one, args=(conn, address, ctx, handler),
                         daemon=True).start()


def _reply(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def _detach() -> None:
    os.setsid()
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def launch(cfg: dict[str, Any]) -> int:
    """Bind, load the certificate, detach a child that serves; say ``{"pid", "port"}``."""
    lifetime = max(1, int(cfg.get("lifetime", 60)))
    try:
        sock = bind(int(cfg["port"]), cfg.get("bind"))
    except OSError as exc:
        kind = {errno.EADDRINUSE: "taken", errno.EACCES: "denied"}.get(exc.errno or 0, "bind")
        _reply({"error": kind, "detail": exc.strerror or str(exc)})
        return 3
    try:
        ctx = tls_context(cfg["cert"], cfg["key"]) if cfg.get("cert") else None
    except (OSError, ValueError) as exc:
        _reply({"error": "tls", "detail": str(exc)})
        return 4
    port = sock.getsockname()[1]
    pid = os.fork()
    if pid:
        sock.close()
        _reply({"pid": pid, "port": port, "tls": ctx is not None})
        return 0
    try:  # the child: never returns into the caller
        _detach()
        signal.alarm(lifetime)  # the hard deadline: SIGALRM's default action ends the process
        serve(sock, ctx, str(cfg["token"]), time.monotonic() + lifetime)
    finally:
        os._exit(0)


# What the runner passes to ``python3 -c``: read the settings and this source from stdin, run.
BOOTSTRAP = ("import sys,json;c=json.loads(sys.stdin.read());g={'__name__':'rs_preflight_probe'};"
             "exec(compile(c.pop('code'),'rs-preflight-header-probe','exec'),g);"
             "sys.exit(g['launch'](c))")
