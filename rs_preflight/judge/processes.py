"""Judges of a host's processes: every process of a product's list runs, matched the way
its document matches them (Altcraft's ``AK:*`` by argv[0], as its psutil script does).

A wanted entry is a name, or a list of names that count as one (a document that spells a
process two ways: either spelling runs it).

>>> procs = [("akd", "AK:api --port 1"), ("sshd", "sshd: /usr/sbin/sshd")]
>>> processes_running(procs, ["AK:api", ["AK:procsmssev", "AK:proccsmsev"]], "argv0").message
'1 of 2 process(es) not running: AK:procsmssev (or AK:proccsmsev)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed, skipped

Wanted = str | Sequence[str]
MATCHES = ("argv0", "comm", "args")


def _names(entry: Wanted) -> list[str]:
    return [entry] if isinstance(entry, str) else list(entry)


def _key(comm: str, args: str, match: str) -> str:
    if match == "comm":
        return comm
    if match == "argv0":
        return args.split(" ", 1)[0] if args else comm
    return args


def _runs(name: str, keys: Sequence[str], match: str) -> bool:
    if match == "args":  # a part of the command line (beam.smp … -name whapps)
        return any(name in key for key in keys)
    return name in keys


def processes_running(processes: Sequence[tuple[str, str]], wanted: Sequence[Wanted],
                      match: str = "argv0") -> Verdict:
    """Every entry of ``wanted`` has a running process (``match``: ``argv0`` the first word of
    the command line, ``comm`` the kernel's 15-character name, ``args`` a part of the command
    line); each missing one is named."""
    keys = [_key(comm, args, match) for comm, args in processes]
    missing = [entry for entry in wanted
               if not any(_runs(name, keys, match) for name in _names(entry))]
    shown = [_names(e)[0] + (f" (or {', '.join(_names(e)[1:])})" if len(_names(e)) > 1 else "")
             for e in missing]
    want = f"{len(wanted)} process(es) running ({match})"
    found = f"{len(wanted) - len(missing)} of {len(wanted)} running"
    if missing:
        return failed(f"{len(missing)} of {len(wanted)} process(es) not running: "
                      f"{', '.join(shown)}", want, f"{found}; missing: {', '.join(shown)}")
    return passed(f"all {len(wanted)} process(es) run", want, found)


Details = Mapping[str, Any]  # the process_details fact: {"host": {...}, pid: {...}}


def _procs(details: Details) -> list[tuple[str, Mapping[str, Any]]]:
    return sorted(((str(p["argv0"]), p) for pid, p in details.items() if pid != "host"),
                  key=lambda item: item[0])


def _over(details: Details, what: str, limit_text: str,
          values: list[tuple[str, float, str]]) -> Verdict:
    """Shared verdict: ``values`` is (process, value, shown) and over the limit when value>0."""
    procs = _procs(details)
    if not procs:
        return skipped("none of the product's processes runs (the process lists say which)")
    over = [f"{name} {shown}" for name, value, shown in values if value > 0]
    want = f"{what} {limit_text} for each of {len(procs)} process(es)"
    if over:
        return failed(f"{len(over)} process(es) over the bound: {', '.join(over[:10])}",
                      want, ", ".join(over[:10]))
    return passed(f"{len(procs)} process(es) within {what} {limit_text}", want,
                  f"{len(procs)} process(es) within")


def process_memory(details: Details, max_rss_percent: float | None = None,
                   max_swap_percent: float | None = None) -> Verdict:
    """RSS at most ``max_rss_percent`` of the memory, swap at most ``max_swap_percent`` of
    the swap (seeds/003, 6.6)."""
    host = details.get("host") or {}
    values: list[tuple[str, float, str]] = []
    for name, p in _procs(details):
        if max_rss_percent is not None and host.get("mem_kb"):
            pct = 100 * int(p.get("rss_kb", 0)) / host["mem_kb"]
            values.append((name, pct - max_rss_percent, f"RSS {pct:.1f} %"))
        if max_swap_percent is not None and host.get("swap_kb"):
            pct = 100 * int(p.get("swap_kb", 0)) / host["swap_kb"]
            values.append((name, pct - max_swap_percent, f"swap {pct:.1f} %"))
    bound = " and ".join(
        b for b in (f"RSS <= {max_rss_percent:g} % of the memory" if max_rss_percent is not None
                    else "", f"swap <= {max_swap_percent:g} % of the swap"
                    if max_swap_percent is not None else "") if b)
    return _over(details, "memory:", bound, values)


def process_cpu(details: Details, metric: str, max_percent_of_cpus: float) -> Verdict:
    """CPU (``total``: user + system; ``iowait``: blocked on I/O) over the sample at most
    ``max_percent_of_cpus`` % × the number of CPUs (seeds/003, 6.5)."""
    cpus = int((details.get("host") or {}).get("cpus") or 1)
    key = "cpu_percent" if metric == "total" else "iowait_percent"
    limit = max_percent_of_cpus * cpus
    values = [(name, float(p.get(key, 0)) - limit, f"{metric} {p.get(key, 0):g} %")
              for name, p in _procs(details)]
    return _over(details, f"CPU {metric}", f"<= {max_percent_of_cpus:g} % × {cpus} CPU(s)",
                 values)


def process_tcp_states(details: Details, maximum: Mapping[str, int]) -> Verdict:
    """TCP connections per state at most the bound of each state (seeds/003, 6.7)."""
    values = [(name, p.get("tcp", {}).get(state, 0) - bound,
               f"{state} {p.get('tcp', {}).get(state, 0)}")
              for name, p in _procs(details) for state, bound in maximum.items()]
    bounds = ", ".join(f"{state} <= {bound}" for state, bound in maximum.items())
    return _over(details, "TCP connections", bounds, values)


def process_open_files(details: Details, max_fraction: float) -> Verdict:
    """Open descriptors at most ``max_fraction`` of the process's RLIMIT_NOFILE soft limit."""
    values = []
    for name, p in _procs(details):
        soft = p.get("nofile_soft")
        if soft:
            values.append((name, p.get("fds", 0) - max_fraction * soft,
                           f"{p.get('fds', 0)} of {soft} files open"))
    return _over(details, "open files", f"<= {max_fraction:.0%} of the nofile limit", values)


__all__ = ["MATCHES", "process_cpu", "process_memory", "process_open_files",
           "process_tcp_states", "processes_running"]
