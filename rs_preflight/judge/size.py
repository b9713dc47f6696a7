"""Judges of sizing against the profile tables (RS-SIZE-01…04, guide §8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed, worst

GIB_KB = 1024 * 1024
NOT_DATA = ("/boot", "/tmp", "/var/tmp")


def nominal(profile: Mapping[str, Mapping[str, Any]], roles: Sequence[str]
            ) -> Mapping[str, Any] | None:
    """The largest row of ``profile`` among ``roles`` (a one-row profile — pilot — fits all)."""
    rows = [profile[r] for r in roles if r in profile]
    if not rows and len(profile) == 1:
        rows = list(profile.values())
    if not rows:
        return None
    disks = max((r["disks_gb"] for r in rows), key=lambda d: (len(d), sum(d)))
    return {"cpu": max(r["cpu"] for r in rows), "ram_gb": max(r["ram_gb"] for r in rows),
            "disks_gb": disks, "ssd": any(r.get("ssd") for r in rows)}


def cpu(found: int, need: Mapping[str, Any], profile: str) -> Verdict:
    expected = f">= {need['cpu']} CPUs ({profile} profile)"
    if found < need["cpu"]:
        return failed(f"{found} CPUs, the {profile} profile needs {need['cpu']}", expected,
                      str(found))
    return passed(f"{found} CPUs", expected, str(found))


def ram(mem_kb: int, need: Mapping[str, Any], profile: str, tolerance: float) -> Verdict:
    have = mem_kb / GIB_KB
    expected = f">= {need['ram_gb']} GiB RAM ({profile}; MemTotal >= {tolerance:.0%})"
    if mem_kb < need["ram_gb"] * GIB_KB * tolerance:
        return failed(f"{have:.1f} GiB RAM, the {profile} profile needs {need['ram_gb']} GiB",
                      expected, f"{have:.1f} GiB")
    return passed(f"{have:.1f} GiB RAM", expected, f"{have:.1f} GiB")


def disks(filesystems: Sequence[Mapping[str, Any]], rotational: Mapping[str, bool],
          need: Mapping[str, Any], profile: str, tolerance: float) -> Verdict:
    """Boot (``/``) and each data volume at least nominal; data on SSD where required."""
    sizes = need["disks_gb"]
    gib = {fs["target"]: fs["size_kb"] / GIB_KB for fs in filesystems}
    verdicts = []
    root = gib.get("/", 0.0)
    boot = f"/ is {root:.0f} GiB"
    verdicts.append(passed(boot) if root >= sizes[0] * tolerance else
                    failed(f"{boot}, the {profile} profile needs {sizes[0]} GB",
                           f">= {sizes[0]} GB", f"{root:.0f} GiB"))
    data = sorted(((size, target) for target, size in gib.items()
                   if target != "/" and not target.startswith(NOT_DATA)), reverse=True)
    for want in sizes[1:]:
        fit = next(((s, t) for s, t in data if s >= want * tolerance), None)
        if fit is None:
            biggest = f"largest other volume {data[0][1]} {data[0][0]:.0f} GiB" if data else \
                "no other volume"
            verdicts.append(failed(f"no data volume of {want} GB ({biggest})",
                                   f"a {want} GB data volume", biggest))
            continue
        data.remove(fit)
        size, target = fit
        if need["ssd"] and rotational.get(target):
            verdicts.append(failed(f"data volume {target} is on a rotational disk (SSD "
                                   "recommended)", "SSD", "rotational", severity="warning"))
        else:
            flag = rotational.get(target)
            kind = "media unknown" if flag is None else ("rotational" if flag else "SSD")
            verdicts.append(passed(f"data volume {target} {size:.0f} GiB ({kind})"))
    return worst(verdicts)


def host_counts(counts: Mapping[str, int], profile: Mapping[str, Mapping[str, Any]],
                name: str) -> Verdict:
    """RS-SIZE-04: at least the profile's number of hosts per role."""
    short = [f"{role}: {counts.get(role, 0)} of {row['count']}" for role, row in profile.items()
             if counts.get(role, 0) < row.get("count", 0)]
    expected = ", ".join(f"{r} {row['count']}" for r, row in profile.items())
    found = ", ".join(f"{r} {counts.get(r, 0)}" for r in profile)
    if short:
        return failed(f"fewer hosts than the {name} profile: {'; '.join(short)}", expected,
                      found)
    return passed(f"host counts meet the {name} profile", expected, found)
