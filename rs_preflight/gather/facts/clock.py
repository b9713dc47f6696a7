"""Facts about time synchronisation: chrony, systemd-timesyncd, ntpd — whichever is there."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rs_preflight.gather.facts import section


@section("chrony_tracking", "chronyc -n tracking")
def _chrony(rc: int, text: str) -> dict[str, Any] | None:
    """Parsed ``chronyc tracking``; None when chronyc is absent or chronyd does not answer."""
    if rc != 0:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    ref = fields.get("Reference ID", "")
    # "0AD500DF (10.213.0.223)"
    source = ref.split("(")[-1].rstrip(")") if "(" in ref else ref
    return {"leap": fields.get("Leap status"), "reference": source or None,
            "stratum": fields.get("Stratum"), "system_time": fields.get("System time")}


@section("timedatectl", "timedatectl show 2>/dev/null && "
                        "timedatectl show-timesync -p ServerAddress 2>/dev/null; true")
def _timedatectl(rc: int, text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


@section("ntpq", "ntpq -pn 2>/dev/null; true")
def _ntpq(rc: int, text: str) -> dict[str, Any] | None:
    """ntpd's selected peer (the line starting with ``*``), or None without ntpq."""
    if not text.strip():
        return None
    peer = next((line.split()[0][1:] for line in text.splitlines() if line.startswith("*")),
                None)
    return {"synced": peer is not None, "reference": peer}


def measure_offset(run: Callable[[], str], samples: int) -> tuple[float, float]:
    """The host clock's offset from the runner's, in seconds, and the round trip it was
    measured at: ``samples`` readings of ``date +%s.%N``, keeping the one with the lowest round
    trip (the NTP idea: the remote reading lies in the middle of the round trip, ± rtt/2)."""
    best: tuple[float, float] | None = None
    for _ in range(samples):
        t0 = time.time()
        remote = float(run().strip())
        t1 = time.time()
        rtt = t1 - t0
        offset = remote - (t0 + t1) / 2
        if best is None or rtt < best[1]:
            best = (offset, rtt)
    assert best is not None
    return best
