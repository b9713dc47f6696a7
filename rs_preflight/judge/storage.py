"""Judges of the shared network folder (RS-STORAGE-01, guide §2.4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed


def network_share(path: str, fs: Mapping[str, Any], network_types: Sequence[str]) -> Verdict:
    """The path exists, is writable, and lies on a network filesystem."""
    expected = f"{path} on a network filesystem, writable"
    if fs["access"] == "missing":
        return failed(f"{path} does not exist", expected, "missing")
    found = f"{fs['fstype']} {fs['source']} mounted at {fs['target']}"
    if fs["fstype"] not in network_types:
        return failed(f"{path} is on a local filesystem ({found}), not a network share",
                      expected, found)
    if fs["access"] != "writable":
        return failed(f"{path} is not writable ({fs['access']})", expected,
                      f"{found}, {fs['access']}")
    return passed(f"{path} is a network share ({found})", expected, found)


def same_share(host: str, writer: str, probe: str, seen: str | None, expected_text: str
               ) -> Verdict:
    """The probe file written on ``writer`` is read back on ``host`` with its content."""
    expected = f"the probe {probe} written on {writer} is visible"
    if seen is None:
        return failed(f"{host} does not see the probe file written on {writer}: not the same "
                      "share", expected, "probe file absent")
    if seen.strip() != expected_text:
        return failed(f"{host} reads a different probe file than {writer} wrote", expected,
                      "different content")
    return passed(f"{host} sees the probe file written on {writer}", expected, "visible")
