"""HTTP(S) and WebSocket through the load balancer, to a pinned address, never a resolved one.

:class:`PinnedAdapter` is ``curl --resolve`` for requests: the URL keeps the name (so ``Host``,
SNI and any certificate name check use it) while the TCP connection goes to the pinned
address; an unpinned name is refused, never resolved. Every request has a timeout.

>>> answer = get("192.0.2.10", "https://rs.example.com/teapot", timeout=5)
>>> answer.status, answer.text
(200, 'I am a teapot')
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.probes.records import Answer, Echo, Upgrade

ECHO_PATH = "/rs-preflight/echo"
GATEWAY = (502, 503, 504)  # the load balancer has no live backend (yet)
RETRY_S = 0.25


class Status(Protocol):
    """An answer with an HTTP status: :class:`Answer`, :class:`Upgrade`."""

    @property
    def status(self) -> int | None: ...


S = TypeVar("S", bound=Status)


class PinnedAdapter(HTTPAdapter):
    """Send requests for ``pins[host]``'s name to that address; refuse unpinned names."""

    def __init__(self, pins: Mapping[str, str]) -> None:
        self.pins = {k.lower().rstrip("."): v for k, v in pins.items()}
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(  # type: ignore[no-untyped-def]
            self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        name = getattr(request, "_rs_name", None)
        if name and host_params.get("scheme") == "https":
            # urllib3 accepts these pool keys; requests' stubs do not list them
            pool_kwargs["server_hostname"] = name  # type: ignore[typeddict-unknown-key]  # SNI
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
        request._rs_name = name  # type: ignore[attr-defined]
        return super().send(request, **kw)


def session() -> requests.Session:
    """A requests session for one probe: no proxies or netrc from the runner's environment
    (``trust_env`` off) — every probe connects to the address it was given."""
    made = requests.Session()
    made.trust_env = False
    return made


def get(address: str, url: str, *, timeout: float, headers: Mapping[str, str] | None = None,
        verify: bool | str = False) -> Answer:
    """GET ``url`` from ``address`` (redirects are not followed: they are what we judge).

    ``verify=False`` by default: these probes judge what the backend receives; the certificate
    is judged by the RS-TLS checks, from the chain as sent. Raises :class:`Unreachable` when
    nothing accepts the connection, else :class:`ProbeError` when no answer came.
    """
    pinned = session()
    name = urlsplit(url).hostname or ""
    pinned.mount("http://", PinnedAdapter({name: address}))
    pinned.mount("https://", PinnedAdapter({name: address}))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            resp = pinned.get(url, headers=dict(headers or {}), timeout=timeout,
                              verify=verify, allow_redirects=False)
        return Answer(url, resp.status_code, {k.lower(): v for k, v in resp.headers.items()},
                      resp.content)
    except requests.RequestException as exc:
        cls = Unreachable if not_accepted(exc) else ProbeError
        raise cls(f"GET {url} at {address}: {_reason(exc)}") from exc
    finally:
        pinned.close()


def echo(answer: Answer) -> Echo | None:
    """The echo backend's account of the request, or None if what answered is not an echo."""
    try:
        doc = json.loads(answer.body)
        pairs = tuple((str(k), str(v)) for k, v in doc["headers"])
        client = str(doc["client"][0])
        probe = str(doc.get("probe") or "")
        backend = _backend(doc.get("backend"))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    return Echo(pairs, client, probe, backend)


def _backend(raw: Any) -> str:
    """``{"host", "port", "tls"}`` of an echo → ``"app1:80 plain HTTP"`` (empty if not said)."""
    if not isinstance(raw, dict) or not raw.get("port"):
        return ""
    where = f"{raw.get('host') or '?'}:{int(raw['port'])}"
    return f"{where} {'TLS' if raw.get('tls') else 'plain HTTP'}"


def speaks_tls(address: str, port: int, *, timeout: float) -> bool:
    """Whether ``address:port`` completes a TLS handshake (True) or answers otherwise, e.g. a
    plain-HTTP server's 400 to a ClientHello (False). Unverified: this asks what the backend
    speaks, the certificate is RS-TLS's. Raises :class:`Unreachable` when nothing accepts."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(f"{address}:{port}: {exc.strerror or exc}") from exc
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with ctx.wrap_socket(sock, server_hostname=None):
            return True
    except (ssl.SSLError, ConnectionError):
        return False       # WRONG_VERSION_NUMBER, or closed on a ClientHello: not TLS
    except OSError as exc:  # a timeout mid-handshake: it accepted, but says nothing
        raise ProbeError(f"{address}:{port}: no TLS handshake and no answer: {exc}") from exc
    finally:
        sock.close()


def websocket(address: str, name: str, *, port: int = 443, path: str = "/faye",
              timeout: float = 5.0, tls: bool = True) -> Upgrade:
    """An RFC 6455 opening handshake for ``name`` at ``address``, by ``websockets``' Sans-I/O
    client protocol (it builds the request and checks ``Sec-WebSocket-Accept``) over a socket
    this thread alone reads and writes; a header echo's first frame is read (for the backend it
    names), then the connection is closed. Every step is bounded by ``timeout``.

    Not ``websockets.sync.client``: it reads the socket in a thread of its own while the
    caller's thread writes the request. On a TLS socket that is one OpenSSL object used by two
    threads at once, which OpenSSL does not allow: now and then the request never left (the load
    balancer logged a request timeout, ``408 <BADREQ>``, 60 s later, and the client hung until
    then although its own timeout was 5 s) — the RS-LB-05 "timed out while waiting for handshake
    response" seen through HAProxy (``tests/lab/test_lb_backends.py`` loops 50 handshakes).
    """
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(f"WebSocket to {name} at {address}:{port}: "
                         f"{exc.strerror or exc}") from exc
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False  # the certificate is RS-TLS's to judge
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=name)
        return _ws_handshake(sock, name, port, path, tls, deadline)
    except (OSError, ValueError) as exc:
        raise ProbeError(f"WebSocket to {name} at {address}:{port}: {exc}") from exc
    finally:
        sock.close()


def _ws_handshake(sock: socket.socket, name: str, port: int, path: str, tls: bool,
                  deadline: float) -> Upgrade:
    from websockets.client import ClientProtocol
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Response
    from websockets.uri import parse_uri

    protocol = ClientProtocol(parse_uri(f"{'wss' if tls else 'ws'}://{name}:{port}{path}"),
                              max_size=1 << 20)
    protocol.send_request(protocol.connect())
    for data in protocol.data_to_send():
        sock.sendall(data)
    response: Response | None = None
    backend = ""
    while True:
        for event in protocol.events_received():
            if isinstance(event, Response):
                response = event
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                with contextlib.suppress(ValueError, AttributeError):
                    backend = _backend(json.loads(bytes(event.data)).get("backend"))
        if response is not None and (response.status_code != 101 or backend
                                     or protocol.handshake_exc is not None):
            break
        left = deadline - time.monotonic()
        if response is not None:
            left = min(left, 0.5)  # switched: an echo's first frame comes at once, or never
        if left <= 0:
            if response is None:
                raise TimeoutError("timed out while waiting for handshake response")
            break
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            if response is None:
                raise
            break
        if not data:
            if response is None:
                raise ConnectionError("closed before answering the handshake")
            break
        protocol.receive_data(data)
    if response.status_code != 101:
        return Upgrade(False, response.status_code,
                       f"answered {response.status_code} {response.reason_phrase}")
    if protocol.handshake_exc is not None:
        return Upgrade(False, None, f"handshake refused: {protocol.handshake_exc}")
    with contextlib.suppress(OSError):  # a polite close; the socket closes either way
        protocol.send_close()
        for data in protocol.data_to_send():
            if data:
                sock.sendall(data)
    return Upgrade(True, 101, "switched protocols (101)" + (f" at {backend}" if backend else ""),
                   backend)


def until_settled(attempt: Callable[[], S], settling: Callable[[], bool], *,
                  pause: float = RETRY_S) -> S:
    """``attempt()``, and again every ``pause`` s while it answers 502/503/504 and
    ``settling()`` says the load balancer may still take the backend for down — it was, until
    rs-preflight's listener started there just now (``HeaderProbe.settling``). The last answer
    is returned whatever it is; a ``ProbeError`` of an attempt is raised at once."""
    while True:
        got = attempt()
        if got.status not in GATEWAY or not settling():
            return got
        time.sleep(pause)


def source_address(destination: str) -> str:
    """The runner's own address toward ``destination`` (a UDP connect sends nothing)."""
    family = socket.AF_INET6 if ":" in destination else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((destination, 9))
        return str(s.getsockname()[0])


def not_accepted(exc: requests.RequestException) -> bool:
    """Nothing accepted the connection (refused, timed out, no route): :class:`Unreachable`,
    not an answer that went wrong (a TLS failure, a reset after connecting)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def brief(exc: BaseException, timeout: float) -> str:
    """A failed request's reason, briefly: the socket's (``Connection refused``), or that
    nothing answered within ``timeout``."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s ({type(exc).__name__})"
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, OSError) and inner.strerror:
            return str(inner.strerror)
        inner = inner.__context__
    return type(exc).__name__


def _reason(exc: requests.RequestException) -> str:
    inner: BaseException = exc
    while inner.__context__ is not None and not isinstance(inner, OSError):
        inner = inner.__context__
    return f"{type(exc).__name__}: {inner}"


__all__ = ["ECHO_PATH", "GATEWAY", "RETRY_S", "Answer", "Echo", "PinnedAdapter", "Status",
           "Upgrade", "brief", "echo", "get", "not_accepted", "session", "source_address",
           "speaks_tls", "until_settled", "websocket"]
