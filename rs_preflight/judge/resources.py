"""Judges of a host's resources now: disk space where given paths live, memory in use, the
kernel's open-file table. The bounds come from the catalogue (the document's where it gives
one: seeds/002 "Disk space (>90% = critical)", "Memory usage (>85% = alert)").

>>> fs = [{"target": "/", "size_kb": 100, "used_kb": 95, "avail_kb": 5}]
>>> filesystem_usage(fs, ["/var/lib/docker"], 90).found
'/ 95 % used'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed


def mount_of(path: str, filesystems: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The filesystem ``path`` lives on: the longest mount point that contains it."""
    best = None
    for fs in filesystems:
        target = str(fs["target"])
        inside = path == target or path.startswith(target.rstrip("/") + "/")
        if inside and (best is None or len(target) > len(str(best["target"]))):
            best = fs
    return best


def used_percent(fs: Mapping[str, Any]) -> int:
    """df's Use%: used / (used + available), rounded up (root's reserve counts as full)."""
    total = int(fs["used_kb"]) + int(fs["avail_kb"])
    return math.ceil(100 * int(fs["used_kb"]) / total) if total else 0


def filesystem_usage(filesystems: Sequence[Mapping[str, Any]], paths: Sequence[str],
                     max_percent: float) -> Verdict:
    """Each filesystem holding one of ``paths`` is at most ``max_percent`` used."""
    want = f"at most {max_percent:g} % used where {', '.join(paths)} live"
    seen: dict[str, int] = {}
    for path in paths:
        fs = mount_of(path, filesystems)
        if fs is not None:
            seen[str(fs["target"])] = used_percent(fs)
    found = ", ".join(f"{t} {p} % used" for t, p in seen.items())
    full = [f"{t} ({p} % used)" for t, p in seen.items() if p > max_percent]
    if full:
        return failed(f"filesystem(s) fuller than {max_percent:g} %: {', '.join(full)}",
                      want, found)
    return passed(f"disk space: {found}", want, found)


def memory_usage(meminfo: Mapping[str, int], max_percent: float) -> Verdict:
    """Memory in use — MemTotal − MemAvailable, what the kernel cannot give back — is at most
    ``max_percent`` of MemTotal."""
    total = meminfo["MemTotal"]
    available = meminfo.get("MemAvailable", meminfo.get("MemFree", 0))
    percent = 100 * (total - available) / total if total else 0.0
    want = f"at most {max_percent:g} % of the memory in use"
    found = f"{percent:.0f} % in use ({(total - available) // 1024} of {total // 1024} MiB)"
    if percent > max_percent:
        return failed(f"memory usage above {max_percent:g} %: {found}", want, found)
    return passed(f"memory: {found}", want, found)


def file_descriptors(file_nr: Mapping[str, int], max_percent: float) -> Verdict:
    """Allocated file handles (/proc/sys/fs/file-nr) are at most ``max_percent`` of file-max."""
    allocated, maximum = file_nr["allocated"], file_nr["max"]
    percent = 100 * allocated / maximum if maximum else 100.0
    want = f"at most {max_percent:g} % of fs.file-max open"
    found = f"{allocated} of {maximum} file handles open ({percent:.2g} %)"
    if percent > max_percent:
        return failed(f"the kernel's file table is {percent:.0f} % full: {found}", want, found)
    return passed(found, want, found)


__all__ = ["file_descriptors", "filesystem_usage", "memory_usage", "mount_of", "used_percent"]
