"""Judges of time: synchronised (RS-TIME-01), one source (02), clocks agree (03)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..results import Verdict, failed, passed

CLIENTS = ("chronyd", "systemd-timesyncd", "ntpd")


def source_of(chrony: Mapping[str, Any] | None, timedatectl: Mapping[str, str],
              ntpq: Mapping[str, Any] | None) -> str | None:
    """The upstream a host follows, from whichever client it runs."""
    if chrony and chrony.get("reference") not in (None, "", "00000000", "0.0.0.0"):
        return str(chrony["reference"])
    if timedatectl.get("ServerAddress"):
        return timedatectl["ServerAddress"]
    if ntpq and ntpq.get("reference"):
        return str(ntpq["reference"])
    return None


def synchronised(processes: Sequence[tuple[str, str]], chrony: Mapping[str, Any] | None,
                 timedatectl: Mapping[str, str], ntpq: Mapping[str, Any] | None) -> Verdict:
    """RS-TIME-01: an NTP client runs and says it is synchronised."""
    running = sorted({c for c, _ in processes if c in CLIENTS})
    expected = "an NTP client (chrony, systemd-timesyncd, ntpd) running and synchronised"
    if chrony is not None:
        leap = chrony.get("leap") or "?"
        if leap == "Normal" and source_of(chrony, {}, None):
            return passed(f"chronyd is synchronised to {chrony['reference']} "
                          f"(stratum {chrony.get('stratum')})", expected, f"chrony: {leap}")
        return failed(f"chronyd runs but is not synchronised (Leap status: {leap})",
                      expected, f"chrony: {leap}, reference {chrony.get('reference')}")
    if timedatectl.get("NTPSynchronized") == "yes":
        return passed("systemd reports the clock synchronised (NTPSynchronized=yes)",
                      expected, "timedatectl: synchronised")
    if ntpq is not None and ntpq.get("synced"):
        return passed(f"ntpd is synchronised to {ntpq['reference']}", expected, "ntpd: synced")
    if running:
        return failed(f"{', '.join(running)} runs but does not report synchronisation",
                      expected, f"{', '.join(running)}: not synchronised")
    return failed("no NTP client runs (chronyd, systemd-timesyncd, ntpd)", expected,
                  "no NTP client")


def one_source(sources: Mapping[str, str | None]) -> Verdict:
    """RS-TIME-02: every host follows the same upstream."""
    known = {h: s for h, s in sources.items() if s}
    distinct = sorted(set(known.values()))
    found = "; ".join(f"{h}: {s}" for h, s in sorted(known.items()))
    expected = "the same NTP source on every host"
    if not known:
        return failed("no host reports an NTP source", expected, "none")
    if len(distinct) > 1:
        return failed(f"hosts follow {len(distinct)} different time sources", expected, found)
    unknown = sorted(h for h, s in sources.items() if not s)
    note = f" ({', '.join(unknown)} report no source: see RS-TIME-01)" if unknown else ""
    return passed(f"every host follows {distinct[0]}{note}", expected, found)


def skew(offset_s: float, rtt_s: float, max_ms: float) -> Verdict:
    """RS-TIME-03: |offset| against the runner, measured at the lowest round trip, <= max."""
    ms, bound = offset_s * 1000, rtt_s * 500
    side = "ahead of" if ms > 0 else "behind"
    found = f"{abs(ms):.0f} ms {side} the runner (± {bound:.0f} ms)"
    expected = f"|skew| <= {max_ms:g} ms"
    if abs(ms) - bound > max_ms:
        return failed(f"clock is {found}", expected, found)
    return passed(f"clock is {found}", expected, found)
