"""Facts about the machine: CPUs, memory, filesystems, block devices, links."""

from __future__ import annotations

import json
from typing import Any

from rs_preflight.gather.facts import FactUnavailable, section

PSEUDO = ("/proc", "/sys", "/dev", "/run")


@section("machine", "uname -m", bounded=True)
def _machine(rc: int, text: str) -> str:
    """The machine architecture (``x86_64``, ``aarch64``)."""
    if rc != 0 or not text.strip():
        raise FactUnavailable(f"uname -m failed (exit {rc}): {text.strip()[:120]}")
    return text.strip().splitlines()[-1]


@section("nproc", "nproc", bounded=True)
def _nproc(rc: int, text: str) -> int:
    return int(text.split()[0])


@section("mem_total_kb", "grep '^MemTotal:' /proc/meminfo", bounded=True)
def _mem(rc: int, text: str) -> int:
    return int(text.split()[1])


@section("filesystems", "df -P -k -T")
def _df(rc: int, text: str) -> list[dict[str, Any]]:
    """Mounted filesystems, pseudo ones (/proc, /sys, /dev, /run) left out."""
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split(None, 6)
        if len(parts) < 7:
            continue
        source, fstype, blocks, _used, _avail, _cap, target = parts
        if target != "/" and target.startswith(PSEUDO):
            continue
        out.append({"source": source, "fstype": fstype, "size_kb": int(blocks),
                    "target": target})
    if not out:
        raise FactUnavailable(f"df printed nothing usable (exit {rc})")
    return out


@section("block_devices", "lsblk -J -b -o NAME,ROTA,TYPE,MOUNTPOINT 2>/dev/null; true",
         bounded=True)
def _lsblk(rc: int, text: str) -> dict[str, bool]:
    """``{mountpoint: rotational}`` for mounted block devices (and their parents' flag)."""
    if not text.strip():
        return {}
    rota: dict[str, bool] = {}

    def walk(devs: list[dict[str, Any]], parent_rota: bool | None) -> None:
        for dev in devs:
            flag = dev.get("rota")
            flag = parent_rota if flag is None else flag in (True, "1", 1)
            if dev.get("mountpoint"):
                rota[dev["mountpoint"]] = bool(flag)
            walk(dev.get("children") or [], flag)
    walk(json.loads(text).get("blockdevices") or [], None)
    return rota


@section("links", "ip -o addr show; echo @@speeds@@; "
                  "for i in /sys/class/net/*; do printf '%s %s\\n' \"${i##*/}\" "
                  "\"$(cat \"$i/speed\" 2>/dev/null)\"; done", bounded=True)
def _links(rc: int, text: str) -> dict[str, Any]:
    """``{"addresses": {address: interface}, "dadfailed": [address…], "speeds": {interface:
    Mb/s or None}}``; ``dadfailed``: addresses whose duplicate address detection failed (another
    host on the link has them: the kernel does not use them)."""
    addrs_text, _, speeds_text = text.partition("@@speeds@@")
    addresses = {}
    dadfailed = []
    for line in addrs_text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("inet", "inet6"):
            address = parts[3].split("/")[0]
            addresses[address] = parts[1].split("@")[0]
            if "dadfailed" in parts[4:]:
                dadfailed.append(address)
    speeds: dict[str, int | None] = {}
    for line in speeds_text.split("\n"):
        name, _, speed = line.strip().partition(" ")
        if name:
            speeds[name] = int(speed) if speed.strip().lstrip("-").isdigit() and \
                int(speed) > 0 else None
    return {"addresses": addresses, "dadfailed": dadfailed, "speeds": speeds}
