"""What the probes return and the judges read: plain data, no I/O.

Judges import these (and only these) from the gather layer; the probes that fill them
(:mod:`.dns`, :mod:`.http`) re-export them under their old names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# -- DNS ----------------------------------------------------------------------------------------
OK, NXDOMAIN, NODATA, ERROR = "ok", "nxdomain", "nodata", "error"


@dataclass(frozen=True)
class Lookup:
    """One question and its answer: A/AAAA addresses, MX exchanges or TXT strings (joined)."""

    name: str
    rdtype: str
    status: str
    values: tuple[str, ...] = ()
    detail: str = ""

    def describe(self) -> str:
        if self.status == OK:
            return ", ".join(self.values)
        return {NXDOMAIN: "NXDOMAIN (no such name)", NODATA: f"no {self.rdtype} record"}.get(
            self.status, f"no answer ({self.detail})")


# -- HTTP through the load balancer --------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One HTTP response, read whole (status, headers, body)."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass(frozen=True)
class Echo:
    """What a header-echo backend says it received: headers in order, and the peer address;
    ``probe`` is the run's token when rs-preflight's own listener answered (else empty)."""

    headers: tuple[tuple[str, str], ...]
    client: str
    probe: str = ""
    backend: str = ""  # "app1:80 plain HTTP": where the load balancer's request came in

    def values(self, header: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == header.lower()]


@dataclass(frozen=True)
class Upgrade:
    """How a WebSocket opening handshake ended: switched (101) or the status given instead."""

    switched: bool
    status: int | None
    detail: str
    backend: str = ""  # where the upgraded connection came in (an echo's first frame says)


# -- CouchDB and RabbitMQ (seeds/001) -----------------------------------------------------------
@dataclass(frozen=True)
class Replication:
    """One replication a CouchDB-API server runs, as its ``/_scheduler/docs`` or its
    ``_replicator`` database says. URLs are shown without their userinfo; ``source_host`` and
    ``target_host`` are the URLs' hosts (lower case, no brackets), ``None`` for a database of the
    server itself (a bare name: CouchDB 1.x and PouchDB Server). ``state`` is the server's word
    (running, pending, crashing, failed, completed; triggered, error); ``continuous`` is None
    when the server does not say; ``error`` the reason it gives (credentials stripped)."""

    doc_id: str
    source: str
    target: str
    source_host: str | None
    target_host: str | None
    state: str
    continuous: bool | None
    error: str | None = None


@dataclass(frozen=True)
class Replications:
    """What one server said about its replications: ``via`` ``/_scheduler/docs`` (CouchDB ≥
    2.1) or ``_replicator`` (the database's documents: CouchDB 1.x, PouchDB Server)."""

    endpoint: str
    via: str
    items: tuple[Replication, ...]


@dataclass(frozen=True)
class RabbitView:
    """One RabbitMQ node's management API: who answered (``node``), its ``cluster_name`` and
    the cluster's nodes as it sees them, ``(name, running)``."""

    endpoint: str
    node: str
    cluster_name: str
    nodes: tuple[tuple[str, bool], ...]


__all__ = ["ERROR", "NODATA", "NXDOMAIN", "OK", "Answer", "Echo", "Lookup", "RabbitView",
           "Replication", "Replications", "Upgrade"]
