"""TLS as a client sees it: the chain the server *sends* for an SNI name, and what was negotiated.

pyOpenSSL, because Python 3.11's ``ssl`` cannot return the unverified peer chain
(``get_unverified_chain`` is 3.13+): a missing intermediate must be seen as missing, not
silently repaired. Nothing is verified here — weak and broken certificates are read as sent
(OpenSSL ``@SECLEVEL=0``, TLS 1.0 offered) so that the judges can say what is wrong.

>>> hs = handshake("192.0.2.10", "api.rs.example.com", 443, timeout=5)
>>> hs.version, [c.subject.rfc4514_string() for c in hs.chain]
('TLSv1.3', ['CN=*.rs.example.com,O=Acme', 'CN=Acme Issuing CA,O=Acme'])
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from rs_preflight.gather.probes import ProbeError, Unreachable


@dataclass(frozen=True)
class Handshake:
    """What one TLS handshake showed: the chain as sent (leaf first), version, cipher."""

    address: str
    name: str
    port: int
    chain: tuple[x509.Certificate, ...]
    version: str
    cipher: str


def handshake(address: str, name: str, port: int = 443, timeout: float = 5.0) -> Handshake:
    """Connect to ``address:port`` with SNI ``name``; raise ProbeError if no handshake."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_cipher_list(b"DEFAULT:@SECLEVEL=0")  # see weak servers to judge them
    ctx.set_min_proto_version(SSL.TLS1_VERSION)   # offer TLS 1.0 so a 1.0-only LB shows
    ctx.set_verify(SSL.VERIFY_NONE, lambda *_: True)
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(f"TLS to {_hostport(address, port)} (SNI {name}): "
                         f"{exc.strerror or exc}") from exc
    conn = SSL.Connection(ctx, sock)
    conn.set_tlsext_host_name(name.encode("idna"))
    conn.set_connect_state()
    try:
        _drive(conn, sock, deadline)
        chain = tuple(conn.get_peer_cert_chain(as_cryptography=True) or ())
        version = conn.get_protocol_version_name()
        cipher = conn.get_cipher_name() or ""
    except SSL.Error as exc:
        raise ProbeError(f"TLS handshake with {_hostport(address, port)} (SNI {name}) "
                         f"failed: {exc}") from exc
    finally:
        with contextlib.suppress(SSL.Error, OSError):
            conn.shutdown()
        sock.close()
    if not chain:
        raise ProbeError(f"{_hostport(address, port)} (SNI {name}) sent no certificate")
    return Handshake(address, name, port, chain, version, cipher)


def _drive(conn: object, sock: socket.socket, deadline: float) -> None:
    """Run the handshake on a non-blocking socket, waiting with select until ``deadline``."""
    from OpenSSL import SSL

    assert isinstance(conn, SSL.Connection)
    sock.setblocking(False)
    while True:
        try:
            conn.do_handshake()
            return
        except (SSL.WantReadError, SSL.WantWriteError) as want:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeError(f"TLS handshake timed out (SNI "
                                 f"{conn.get_servername()!r})") from None
            read = isinstance(want, SSL.WantReadError)
            select.select([sock] if read else [], [] if read else [sock], [], remaining)


def trust_store(ca_bundle: Path | None) -> list[x509.Certificate]:
    """The certificates to trust: the site's CA bundle, or the system store."""
    path = ca_bundle or _system_bundle()
    if path is None:
        raise ProbeError("no CA bundle in the site (tls.ca_bundle) and no system trust store")
    try:
        with warnings.catch_warnings():
            # Some system stores still hold old roots with non-positive serials; cryptography
            # warns about them on every load. Trusting them is the store owner's decision.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ProbeError(f"cannot read trusted certificates from {path}: {exc}") from exc


def store_name(ca_bundle: Path | None) -> str:
    """What a verdict says it verified against (the one wording for every TLS check)."""
    return f"the CA bundle {ca_bundle}" if ca_bundle else "the system trust store"


def _system_bundle() -> Path | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


__all__ = ["Handshake", "handshake", "trust_store"]
