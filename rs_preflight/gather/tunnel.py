"""A service a host keeps on its loopback (Altcraft's MongoDB and SSDB on 127.0.0.1), reached
from the runner through the host's own SSH connection, so that the real client libraries
(pymongo, redis-py, psycopg) speak to it as to any other address.

``forward`` listens on an ephemeral port of the runner's loopback and carries each connection
made to it over a ``direct-tcpip`` channel of the host's SSH transport (what ``ssh -L`` does).
Nothing runs or is written on the host; the listener and its threads end with the context.

>>> with forward(transport, "127.0.0.1", 27017, timeout=5) as (address, port):
...     pymongo.MongoClient(address, port, directConnection=True).admin.command("hello")
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any

from rs_preflight.gather.probes import ProbeError, Unreachable

CHUNK = 65536


@contextlib.contextmanager
def forward(transport: Any, host: str, port: int, timeout: float
            ) -> Iterator[tuple[str, int]]:
    """(address, port) on the runner that leads to ``host:port`` as the SSH server sees it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()
    errors: list[str] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_carry, args=(client, transport, host, port, timeout,
                                                  stop, errors), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True, name=f"rs-forward-{port}")
    thread.start()
    try:
        yield listener.getsockname()[0], listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=2)
    if errors:
        raise Unreachable(errors[0])


def _carry(client: socket.socket, transport: Any, host: str, port: int, timeout: float,
           stop: threading.Event, errors: list[str]) -> None:
    try:
        channel = transport.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 0),
                                         timeout=timeout)
    except Exception as exc:  # paramiko's ChannelException: the host could not connect
        errors.append(f"{host}:{port} on the host: {getattr(exc, 'text', None) or exc}")
        client.close()
        return
    try:
        _pump(client, channel, stop)
    finally:
        channel.close()
        client.close()


def _pump(client: socket.socket, channel: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        ready, _, _ = select.select([client, channel], [], [], 0.2)
        for source, sink in ((client, channel), (channel, client)):
            if source in ready:
                data = source.recv(CHUNK)
                if not data:
                    return
                sink.sendall(data)


def ssh_transport(thost: Any) -> Any:
    """The paramiko transport of a host's SSH backend; ProbeError for other connections."""
    backend = getattr(thost, "backend", None)
    client = getattr(backend, "client", None)
    transport = client.get_transport() if client is not None else None
    if transport is None:
        raise ProbeError("a service on the host's loopback is reached through its SSH "
                         "connection; this host is not reached over SSH")
    return transport


__all__ = ["forward", "ssh_transport"]
