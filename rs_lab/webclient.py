"""Client helpers for the lab's web services that never use the system resolver.

* :func:`pinned_session` — a ``requests.Session`` that sends ``name`` to a fixed address (like
  ``curl --resolve``): the URL keeps the name, so ``Host``, SNI and certificate name checks use
  it, while the TCP connection goes to the pinned address.
* :func:`peer_chain` — the certificates a TLS server actually sends (pyOpenSSL; Python 3.11's
  ``ssl`` cannot return the unverified chain).
* :func:`websocket_probe` — an HTTP/1.1 ``Upgrade: websocket`` request; returns status, headers
  and the first bytes after the response head.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from requests.adapters import HTTPAdapter


class PinnedAdapter(HTTPAdapter):
    """Send every request for a pinned name to its address, like ``curl --resolve``: the
    request keeps the name in ``Host``, SNI and the certificate check; an unpinned name is
    refused (never resolved). The lab's own: ``rs_lab`` does not import the product it tests.
    """

    def __init__(self, pins: Mapping[str, str]) -> None:
        self.pins = {k.lower().rstrip("."): v for k, v in pins.items()}
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(  # type: ignore[no-untyped-def]
            self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        name = getattr(request, "_lab_name", None)
        if name and host_params.get("scheme") == "https":
            # urllib3 pool keys that requests' stubs do not list: SNI and the checked name
            pool_kwargs["server_hostname"] = name  # type: ignore[typeddict-unknown-key]
            if verify is not False:
                pool_kwargs["assert_hostname"] = name  # type: ignore[typeddict-unknown-key]
        return host_params, pool_kwargs

    def send(self, request: requests.PreparedRequest,  # type: ignore[override]
             **kw: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        name = (parts.hostname or "").lower()
        address = self.pins.get(name)
        if address is None:
            raise requests.ConnectionError(f"{name!r} is not pinned; refusing to resolve it")
        netloc = f"[{address}]" if ":" in address else address
        if parts.port:
            netloc += f":{parts.port}"
        request.url = parts._replace(netloc=netloc).geturl()
        request.headers["Host"] = name + (f":{parts.port}" if parts.port else "")
        request._lab_name = name  # type: ignore[attr-defined]
        return super().send(request, **kw)


def pinned_session(pins: Mapping[str, str], ca: Path | str | None = None) -> requests.Session:
    """A session whose every http(s) request goes to ``pins[hostname]``; unknown names fail.

    ``ca`` (the lab root) becomes ``session.verify``; pass ``verify=False`` per request to skip.
    """
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment
    adapter = PinnedAdapter(pins)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if ca is not None:
        session.verify = str(ca)
    return session


def peer_chain(address: str, name: str, port: int = 443, timeout: float = 5.0
               ) -> list[x509.Certificate]:
    """The certificates (``cryptography`` objects, leaf first) the server sends for SNI ``name``.

    No verification: this reads what was sent, weak or broken certificates included.
    """
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    ctx.set_verify(SSL.VERIFY_NONE, lambda *a: True)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect((address, port))
    conn = SSL.Connection(ctx, sock)
    conn.set_tlsext_host_name(name.encode())
    conn.set_connect_state()
    try:
        while True:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                continue
        chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    finally:
        with contextlib.suppress(SSL.Error):
            conn.shutdown()
        sock.close()
    return list(chain)


def websocket_probe(address: str, name: str, *, port: int = 443, tls: bool = True,
                    path: str = "/faye", ca: Path | str | None = None,
                    timeout: float = 5.0) -> tuple[int, dict[str, str], bytes, str]:
    """Send an ``Upgrade: websocket`` request; return (status, headers, extra bytes, key).

    ``extra`` is whatever followed the response head (the echo backend sends one text frame).
    """
    key = base64.b64encode(os.urandom(16)).decode()
    raw = socket.create_connection((address, port), timeout=timeout)
    sock: socket.socket = raw
    if tls:
        ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
        if ca is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(raw, server_hostname=name)
    try:
        req = (f"GET {path} HTTP/1.1\r\nHost: {name}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n")
        sock.sendall(req.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
        head, _, extra = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        try:
            while status == 101 and not _frame_complete(extra):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                extra += chunk
        except OSError:
            pass
        return status, headers, extra, key
    finally:
        sock.close()


def _frame_complete(data: bytes) -> bool:
    if len(data) < 2:
        return False
    n, offset = data[1] & 0x7F, 2
    if n == 126:
        n, offset = (int.from_bytes(data[2:4], "big"), 4) if len(data) >= 4 else (1 << 62, 4)
    elif n == 127:
        n, offset = (int.from_bytes(data[2:10], "big"), 10) if len(data) >= 10 else (1 << 62, 10)
    return len(data) >= offset + n


def ws_frame_payload(data: bytes) -> bytes:
    """The payload of the first unmasked server frame in ``data``."""
    n = data[1] & 0x7F
    offset = 2
    if n == 126:
        n, offset = int.from_bytes(data[2:4], "big"), 4
    elif n == 127:
        n, offset = int.from_bytes(data[2:10], "big"), 10
    return data[offset:offset + n]
