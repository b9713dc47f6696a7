"""A data service as its clients see it: connected to, asked in its own protocol, its version
read — MongoDB (pymongo: ``hello``, ``buildInfo``), Redis and SSDB (redis-py: ``PING``; SSDB
speaks Redis's protocol on its port), RabbitMQ (the AMQP 0-9-1 protocol header, answered by
``Connection.Start`` whose server properties carry the version: no login needed) and
PostgreSQL (psycopg: a login, ``server_version``, ``pg_available_extensions``).

Every call has a timeout; addresses only (the runner's resolver is never asked). A service
that cannot be connected to raises ``Unreachable``; one that answers something else, or
refuses the login, raises ``ProbeError`` saying so.

>>> ask("mongodb", "192.0.2.60", 27017, timeout=5).version
'7.0.14'
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.probes.http import brief, session
from rs_preflight.gather.probes.records import RabbitView

PROTOCOLS = ("mongodb", "redis", "ssdb", "amqp", "postgresql")
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


class LoginRefused(ProbeError):
    """The service answered but refused the site's login: what it is was not learnt."""


@dataclass(frozen=True)
class Answer:
    """What a service said: its protocol answered, and the version it gave (if it gives one)."""

    protocol: str
    endpoint: str
    version: str | None
    detail: str


def endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def ask(protocol: str, address: str, port: int, timeout: float, user: str | None = None,
        password: str | None = None, database: str | None = None) -> Answer:
    """Connect to ``address:port`` and speak ``protocol``; the answer or a ProbeError."""
    where = endpoint(address, port)
    if protocol == "mongodb":
        return _mongodb(address, port, where, timeout, user, password)
    if protocol in ("redis", "ssdb"):
        return _redis(protocol, address, port, where, timeout, password)
    if protocol == "amqp":
        return _amqp(address, port, where, timeout)
    if protocol == "postgresql":
        version, _ = postgresql(address, port, timeout, user, password, database, ())
        return Answer(protocol, where, version, f"PostgreSQL {version}")
    raise ProbeError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")


def _mongodb(address: str, port: int, where: str, timeout: float, user: str | None,
             password: str | None) -> Answer:
    import pymongo
    from pymongo import errors

    ms = int(timeout * 1000)
    auth: dict[str, Any] = {"username": user, "password": password} if user else {}
    client: Any = pymongo.MongoClient(address, port, directConnection=True,
                                      serverSelectionTimeoutMS=ms, connectTimeoutMS=ms,
                                      socketTimeoutMS=ms, appname="rs-preflight", **auth)
    try:
        hello = client.admin.command("hello")
        try:
            version = client.admin.command("buildInfo").get("version")
        except errors.OperationFailure:  # some servers ask for a login first
            version = None
    except errors.OperationFailure as exc:
        raise LoginRefused(f"MongoDB at {where} refused: {exc.details or exc}") from exc
    except errors.PyMongoError as exc:
        raise Unreachable(f"MongoDB at {where}: {type(exc).__name__}: {str(exc)[:300]}") \
            from exc
    finally:
        client.close()
    role = "primary" if hello.get("isWritablePrimary") else "not primary"
    return Answer("mongodb", where, version, f"MongoDB answered hello ({role})")


def _redis(protocol: str, address: str, port: int, where: str, timeout: float,
           password: str | None) -> Answer:
    import redis

    name = "SSDB" if protocol == "ssdb" else "Redis"
    client = redis.Redis(host=address, port=port, password=password or None,
                         socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        if not client.ping():
            raise ProbeError(f"{name} at {where} did not answer PING")
        version = None
        if protocol == "redis":
            version = str(client.info("server").get("redis_version") or "") or None
    except redis.AuthenticationError as exc:
        raise LoginRefused(f"{name} at {where} refused the login: {exc}") from exc
    except redis.ResponseError as exc:
        raise ProbeError(f"{name} at {where} answered an error: {exc}") from exc
    except redis.RedisError as exc:
        raise Unreachable(f"{name} at {where}: {type(exc).__name__}: {exc}") from exc
    finally:
        client.close()
    return Answer(protocol, where, version, f"{name} answered PING")


def _amqp(address: str, port: int, where: str, timeout: float) -> Answer:
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(f"AMQP at {where}: {exc.strerror or exc}") from exc
    try:
        sock.sendall(AMQP_HEADER)
        head = _read(sock, 7, where)
        if head.startswith(b"AMQP"):  # the server proposes another protocol version
            raise ProbeError(f"{where} does not speak AMQP 0-9-1 (it offered "
                             f"{(head + _read(sock, 1, where))[4:].hex()})")
        kind, channel, size = struct.unpack(">BHI", head)
        if kind != 1 or channel != 0 or size > 1 << 20:
            raise ProbeError(f"{where} did not answer with an AMQP method frame")
        payload = _read(sock, size + 1, where)[:-1]
    except TimeoutError as exc:
        raise ProbeError(f"{where} accepted the connection but did not answer the AMQP "
                         f"protocol header within {timeout:g} s") from exc
    finally:
        sock.close()
    class_id, method_id = struct.unpack(">HH", payload[:4])
    if (class_id, method_id) != (10, 10):
        raise ProbeError(f"{where} answered AMQP method {class_id}.{method_id}, not "
                         "Connection.Start")
    props = _table(payload[6:])
    version = props.get("version")
    product = props.get("product", "AMQP server")
    return Answer("amqp", where, str(version) if version else None,
                  f"{product} answered Connection.Start (AMQP 0-9-1)")


def _read(sock: socket.socket, n: int, where: str) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ProbeError(f"{where} closed the connection before answering")
        data += chunk
    return data


def _table(data: bytes) -> dict[str, Any]:
    """An AMQP field table's string and nested-table values (server properties)."""
    size = struct.unpack(">I", data[:4])[0]
    body, i = data[4:4 + size], 0
    out: dict[str, Any] = {}
    while i < len(body):
        klen = body[i]
        key = body[i + 1:i + 1 + klen].decode("utf-8", "replace")
        i += 1 + klen
        kind = chr(body[i])
        i += 1
        if kind == "S":
            vlen = struct.unpack(">I", body[i:i + 4])[0]
            out[key] = body[i + 4:i + 4 + vlen].decode("utf-8", "replace")
            i += 4 + vlen
        elif kind == "F":
            vlen = struct.unpack(">I", body[i:i + 4])[0]
            out[key] = _table(body[i:i + 4 + vlen])
            i += 4 + vlen
        elif kind == "t":
            out[key] = bool(body[i])
            i += 1
        else:  # a type server properties do not use: stop, keep what was read
            break
    return out


def postgresql(address: str, port: int, timeout: float, user: str | None,
               password: str | None, database: str | None, extensions: Sequence[str]
               ) -> tuple[str, dict[str, str | None]]:
    """(server_version, {extension: default_version or None when not available}) after a
    login (sslmode prefer: the catalogue asks for reachability, not TLS)."""
    import psycopg

    where = endpoint(address, port)
    try:
        with psycopg.connect(host=address, port=port, user=user or None,
                             password=password or None, dbname=database or user or None,
                             connect_timeout=max(1, int(timeout)), sslmode="prefer",
                             application_name="rs-preflight") as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            rows = conn.execute("SELECT name, default_version FROM pg_available_extensions "
                                "WHERE name = ANY(%s)", (list(extensions),)).fetchall()
    except psycopg.OperationalError as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        words = ("connection refused", "timeout expired", "no route", "could not connect")
        kind = Unreachable if any(w in text.lower() for w in words) else LoginRefused
        raise kind(f"PostgreSQL at {where}: {text}") from exc
    found: dict[str, str | None] = {name: None for name in extensions}
    found.update({str(name): str(ver) for name, ver in rows})
    return version.split()[0], found


def management(address: str, port: int, path: str, user: str | None, password: str | None,
               timeout: float) -> Any:
    """``GET /api<path>`` of RabbitMQ's management API (JSON), with the site's login."""
    import requests

    where = endpoint(address, port)
    asking = session()
    try:
        resp = asking.get(f"http://{where}/api{path}", auth=(user or "", password or ""),
                          timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise Unreachable(f"RabbitMQ management API at {where}: {brief(exc, timeout)}") \
            from exc
    finally:
        asking.close()
    if resp.status_code == 401:
        raise LoginRefused(f"RabbitMQ management API at {where} refused the login (HTTP 401)")
    if resp.status_code != 200:
        raise ProbeError(f"RabbitMQ management API at {where} answered HTTP "
                         f"{resp.status_code} for /api{path.split('?')[0]}")
    try:
        return resp.json()
    except ValueError as exc:
        raise ProbeError(f"RabbitMQ management API at {where}: /api{path.split('?')[0]} did "
                         "not answer JSON") from exc


def rabbitmq_queues(address: str, port: int, vhost: str, user: str | None,
                    password: str | None, timeout: float) -> dict[str, int]:
    """``{queue: messages}`` of one virtual host, from RabbitMQ's management API."""
    import urllib.parse

    path = f"/queues/{urllib.parse.quote(vhost, safe='')}?columns=name,messages"
    found = management(address, port, path, user, password, timeout)
    try:
        return {str(q["name"]): int(q.get("messages") or 0) for q in found}
    except (ValueError, KeyError, TypeError) as exc:
        raise ProbeError(f"RabbitMQ management API at {endpoint(address, port)}: not a "
                         "list of queues") from exc


def rabbitmq_view(address: str, port: int, user: str | None, password: str | None,
                  timeout: float) -> RabbitView:
    """The cluster as this node's management API sees it: ``/api/overview`` (the answering
    node, ``cluster_name``) and ``/api/nodes`` (each node's name and ``running``)."""
    where = endpoint(address, port)
    overview = management(address, port, "/overview", user, password, timeout)
    nodes = management(address, port, "/nodes?columns=name,running", user, password, timeout)
    try:
        seen = tuple((str(n["name"]), n.get("running") is True) for n in nodes)
        return RabbitView(where, str(overview.get("node") or "?"),
                          str(overview.get("cluster_name") or "?"), seen)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProbeError(f"RabbitMQ management API at {where}: /api/overview or /api/nodes "
                         "is not what RabbitMQ answers") from exc


__all__ = ["AMQP_HEADER", "PROTOCOLS", "Answer", "LoginRefused", "ask", "endpoint", "management",
           "postgresql", "rabbitmq_queues", "rabbitmq_view"]
