"""Judges of time: synchronised (RS-TIME-01), one source (02), clocks agree (03)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed, skipped

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


def follows_majority(host: str, sources: Mapping[str, str | None]) -> Verdict:
    """RS-TIME-02 for ``host``: it follows the source most hosts of the site follow.

    ``sources``: every reachable host's upstream (None: it reports none). The majority's
    source is the site's; a host following another fails on its own record (found: its
    source, expected: the majority's). With a tie there is no majority, and the record says so.
    """
    mine = sources.get(host)
    if not mine:
        return skipped(f"{host} reports no NTP source (RS-TIME-01 says why)")
    followers: dict[str, list[str]] = {}
    for name, source in sorted(sources.items()):
        if source:
            followers.setdefault(source, []).append(name)
    most = max(len(names) for names in followers.values())
    leaders = sorted(s for s, names in followers.items() if len(names) == most)
    if len(leaders) > 1:
        split = "; ".join(f"{s} ({', '.join(followers[s])})" for s in leaders)
        return failed(f"no majority source: hosts are split evenly between {split}; {host} "
                      f"follows {mine}", "one NTP source shared by most hosts (tie: "
                      f"{' or '.join(leaders)})", mine)
    majority = leaders[0]
    expected = f"{majority} (the source of {most} of {sum(map(len, followers.values()))} hosts)"
    if mine != majority:
        return failed(f"{host} follows {mine}, not the site's source {majority} "
                      f"({', '.join(followers[majority])})", expected, mine)
    return passed(f"{host} follows the site's source {majority}", expected, mine)


def skew(offset_s: float, rtt_s: float, max_ms: float) -> Verdict:
    """RS-TIME-03: |offset| against the runner, measured at the lowest round trip, <= max."""
    ms, bound = offset_s * 1000, rtt_s * 500
    side = "ahead of" if ms > 0 else "behind"
    found = f"{abs(ms):.0f} ms {side} the runner (± {bound:.0f} ms)"
    expected = f"|skew| <= {max_ms:g} ms"
    if abs(ms) - bound > max_ms:
        return failed(f"clock is {found}", expected, found)
    return passed(f"clock is {found}", expected, found)
