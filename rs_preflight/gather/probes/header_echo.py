"""rs-preflight's header-echo listener: runs on a backend host for a minute at most.

Shipped in the package and sent to the host over SSH by :mod:`rs_preflight.gather.header_probe`
(``python3 -c <bootstrap> rs-preflight-header-probe <token>``, with this source, the settings
and a throwaway certificate on **stdin**, never in files or on the command line). Standard
library only, for the host's ``python3`` (3.7+). It

* binds the backend ports it is given on the host's **site address** only (``bind``: the address
  the site gives, or the addresses the host's own resolver gives for its name; never every
  interface) *before* it detaches, so a taken port is said at once: exit 3 and
  ``{"error": "taken", ...}`` on stdout. Ports come in groups, one per role (``groups``: app →
  ``[443, 80]`` when the site does not say which); a group needs one free port, the others
  are skipped where taken, and ``ports`` in the reply says what it listens on;
* answers only requests that carry the run's token (``?rs-preflight-probe=<token>`` or the
  ``X-RS-Preflight-Probe`` header): anything else gets ``404`` and is not the load balancer's
  request we asked for. A request with the token gets ``200`` and JSON ``{"request_line",
  "method", "path", "version", "client": [ip, port], "headers": [[name, value], ...],
  "server", "probe", "backend": {"host", "port", "tls"}}`` — headers in arrival order,
  duplicates kept; the shape of the lab's ``rs_lab.echo``, plus ``probe`` (the token) and
  ``backend`` (which host, port and protocol the load balancer used) — and an ``Upgrade:
  websocket`` request with ``101`` and the RFC 6455 ``Sec-WebSocket-Accept``, then one text
  frame with the same JSON;
* serves at most :data:`MAX_CONNECTIONS` connections at once (a thread each): a connection
  beyond that is closed at once, so idle clients cannot make it start a thread apiece;
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
MAX_CONNECTIONS = 32  # connections served at once (one thread each); more are closed at once
TOKEN_PARAM = "rs-preflight-probe"
TOKEN_HEADER = "X-RS-Preflight-Probe"


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
    host = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Records nothing."""

    def _echo(self) -> bytes:
        return json.dumps({
            "request_line": self.requestline, "method": self.command, "path": self.path,
            "version": self.request_version, "client": _client(self.client_address),
            "headers": [[k, v] for k, v in self.headers.items()],
            "server": "rs-preflight", "probe": self.token,
            "backend": {"host": self.host, "port": self.connection.getsockname()[1],
                        "tls": isinstance(self.connection, ssl.SSLSocket)}}).encode()

    def _ours(self) -> bool:
        """The request carries this run's token (in the query or a header)."""
        query = self.path.partition("?")[2]
        sent = [v for k, _, v in (p.partition("=") for p in query.split("&")) if k == TOKEN_PARAM]
        sent.append((self.headers.get(TOKEN_HEADER) or "").strip())
        return bool(self.token) and self.token in sent

    def _refuse(self) -> None:
        body = b"not rs-preflight's request\n"
        self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= BODY_MAX:
            self.rfile.read(length)
        if not self._ours():
            self._refuse()
            return
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
               handler: type[EchoHandler], slots: threading.BoundedSemaphore) -> None:
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
        slots.release()


def bind(port: int, address: str | None = None) -> socket.socket:
    """A listening socket on ``address`` (every address, dual stack, when None)."""
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
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if address else 0)
            sock.bind((where, port))
            sock.listen(64)
            return sock
        except OSError as exc:
            sock.close()
            no_ipv6 = exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)
            if not (no_ipv6 and i + 1 < len(candidates)):
                raise
    raise OSError(errno.EADDRNOTAVAIL, "no address to bind")


def site_addresses(where: str) -> list[str]:
    """The addresses to listen on: ``where`` itself when it is an address, else what the
    host's own resolver gives for that name (the host's name in the site file)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in where else socket.AF_INET, where)
        return [where]
    except OSError:
        pass
    infos = socket.getaddrinfo(where, None, 0, socket.SOCK_STREAM)
    found = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    # Debian's /etc/hosts maps the host's own name to 127.0.1.1: not what the LB reaches
    outside = [a for a in found if not a.startswith("127.") and a != "::1"]
    return outside or found


def bind_groups(groups: list[list[int]], addresses: list[str]
                ) -> tuple[list[socket.socket], list[int], list[int]]:
    """Listen on each port of ``groups`` on every address; a port taken on any of them is
    skipped. Raises ``OSError(EADDRINUSE)`` when a group has no free port left.
    Returns (sockets, ports listened on, ports skipped as taken)."""
    socks: list[socket.socket] = []
    ports: list[int] = []
    taken: list[int] = []
    try:
        for port in dict.fromkeys(p for g in groups for p in g):
            mine: list[socket.socket] = []
            try:
                for where in addresses:
                    mine.append(bind(port, where))
            except OSError as exc:
                for sock in mine:
                    sock.close()
                if exc.errno != errno.EADDRINUSE:
                    raise
                taken.append(port)
                continue
            socks += mine
            ports.append(port)
        for group in groups:
            if not set(group) & set(ports):
                raise OSError(errno.EADDRINUSE, "port " + " and ".join(map(str, group)) +
                              " taken")
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks, ports, taken


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


def serve(socks: list[socket.socket], ctx: ssl.SSLContext | None, token: str, deadline: float,
          host: str = "") -> None:
    """Accept until ``deadline`` (monotonic); a thread per connection, at most
    :data:`MAX_CONNECTIONS` at once (a connection beyond that is closed at once)."""
    import selectors

    handler = type("Handler", (EchoHandler,), {"token": token, "host": host})
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    sel = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            try:
                conn, address = key.fileobj.accept()  # type: ignore[union-attr]
            except OSError:
                continue
            conn.setblocking(True)
            if not slots.acquire(blocking=False):
                with contextlib.suppress(OSError):
                    conn.close()
                continue
            threading.Thread(target=_serve_one, args=(conn, address, ctx, handler, slots),
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
    """Bind, load the certificate, detach a child that serves; say ``{"pid", "ports", "tls"}``."""
    lifetime = max(1, int(cfg.get("lifetime", 60)))
    groups = cfg.get("groups") or [[int(cfg["port"])]]
    try:
        addresses = site_addresses(cfg["bind"]) if cfg.get("bind") else [""]
        socks, ports, taken = bind_groups([[int(p) for p in g] for g in groups],
                                          [a or "" for a in addresses])
    except OSError as exc:
        kind = {errno.EADDRINUSE: "taken", errno.EACCES: "denied"}.get(exc.errno or 0, "bind")
        _reply({"error": kind, "detail": exc.strerror or str(exc)})
        return 3
    try:
        ctx = tls_context(cfg["cert"], cfg["key"]) if cfg.get("cert") else None
    except (OSError, ValueError) as exc:
        _reply({"error": "tls", "detail": str(exc)})
        return 4
    pid = os.fork()
    if pid:
        for sock in socks:
            sock.close()
        _reply({"pid": pid, "ports": ports, "taken": taken, "tls": ctx is not None,
                "port": ports[0]})
        return 0
    try:  # the child: never returns into the caller
        _detach()
        signal.alarm(lifetime)  # the hard deadline: SIGALRM's default action ends the process
        serve(socks, ctx, str(cfg["token"]), time.monotonic() + lifetime, str(cfg.get("host", "")))
    finally:
        os._exit(0)


# What the runner passes to ``python3 -c``: read the settings and this source from stdin, run.
BOOTSTRAP = ("import sys,json;c=json.loads(sys.stdin.read());g={'__name__':'rs_preflight_probe'};"
             "exec(compile(c.pop('code'),'rs-preflight-header-probe','exec'),g);"
             "sys.exit(g['launch'](c))")
