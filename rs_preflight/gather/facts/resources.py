"""Facts about a host's resources as they are now: disk space per filesystem, memory, and
the kernel's open-file table (the monitoring sections of seeds/002, 003 and 004).

>>> parse_file_nr(0, "4128\\t0\\t9223372036854775807")
{'allocated': 4128, 'unused': 0, 'max': 9223372036854775807}
"""

from __future__ import annotations

from typing import Any

from rs_preflight.gather.facts import FactUnavailable, section
from rs_preflight.spec.redact import clip

PSEUDO = ("/proc", "/sys", "/dev", "/run")


@section("disk_usage", "df -P -k")
def parse_disk_usage(rc: int, text: str) -> list[dict[str, Any]]:
    """``[{source, target, size_kb, used_kb, avail_kb}]`` of mounted filesystems (pseudo ones
    left out); a filesystem df could not read (a hung NFS) is simply missing."""
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[1].isdigit():
            continue
        source, blocks, used, avail, _cap, target = parts
        if target != "/" and target.startswith(PSEUDO):
            continue
        out.append({"source": source, "target": target, "size_kb": int(blocks),
                    "used_kb": int(used), "avail_kb": int(avail)})
    if not out:
        raise FactUnavailable(f"df printed nothing usable (exit {rc}): {clip(text, 120)}")
    return out


@section("meminfo", "cat /proc/meminfo", bounded=True)
def parse_meminfo(rc: int, text: str) -> dict[str, int]:
    """``{field: kB}`` of /proc/meminfo (MemTotal, MemAvailable, SwapTotal, …)."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    if "MemTotal" not in out:
        raise FactUnavailable(f"/proc/meminfo unreadable: {clip(text, 120)}")
    return out


@section("file_nr", "cat /proc/sys/fs/file-nr", bounded=True)
def parse_file_nr(rc: int, text: str) -> dict[str, int]:
    """The kernel's file table: allocated handles, unused ones, and the maximum (file-max)."""
    allocated, unused, maximum = (int(v) for v in text.split()[:3])
    return {"allocated": allocated, "unused": unused, "max": maximum}


__all__ = ["parse_disk_usage", "parse_file_nr", "parse_meminfo"]
