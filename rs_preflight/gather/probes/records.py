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


__all__ = ["ERROR", "NODATA", "NXDOMAIN", "OK", "Answer", "Echo", "Lookup", "Upgrade"]
