"""Facts about the processes of a product, per process, as Altcraft's diagnostics script reads
them with psutil (seeds/003, 4.4 and 6.4–6.7): memory (RSS, swap), CPU over a short sample
(user + system, and the time blocked on I/O), the open-files limit and the descriptors open,
and the TCP connections by state. The processes are those whose argv[0] starts with one of
the given prefixes (``AK:``): the command is built from them (``process_details_command``),
each quoted; nothing is written on the host.

The TCP states come from ``/proc/net/tcp{,6}`` (socket inode → state) joined on the runner
with each process's ``socket:[inode]`` descriptors — what ``psutil.net_connections`` does.
Other users' descriptors need root (``ssh.sudo``): without, a process shows no descriptors.

>>> parse_process_details(0, "M 8000000 1000000 2 100\\nP 7 AK:api\\nL 7 1024 4096\\n")["7"]
{'argv0': 'AK:api', 'nofile_soft': 1024, 'nofile_hard': 4096, 'tcp': {}}
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Sequence
from typing import Any

from rs_preflight.gather.facts import Context, FactUnavailable, section

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}
SAMPLE_SECONDS = 1


def process_details_command(prefixes: Sequence[str], sample: float = SAMPLE_SECONDS) -> str:
    """The shell command printing the details of every process whose argv[0] starts with
    one of ``prefixes`` (each passed quoted, matched as a fixed string by awk)."""
    if not prefixes:
        return "true"
    pids = ("ps -e -o pid=,args= | awk -v p=" + shlex.quote("\t".join(prefixes)) +
            " 'BEGIN { n = split(p, w, \"\\t\") } { for (i = 1; i <= n; i++) "
            "if (index($2, w[i]) == 1) { print $1, $2; break } }'")
    stat = ("awk '{ sub(/^.*\\) /, \"\"); print $12, $13, $40 }' /proc/$pid/stat")
    return "\n".join([
        "printf 'M %s %s %s %s\\n' \"$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)\" "
        "\"$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)\" \"$(nproc)\" "
        "\"$(getconf CLK_TCK)\"",
        f"found=$({pids})",
        "echo \"$found\" | while read -r pid argv0; do [ -n \"$pid\" ] || continue",
        "  printf 'P %s %s\\n' \"$pid\" \"$argv0\"",
        "  printf 'S %s %s\\n' \"$pid\" \"$(grep -E '^(VmRSS|VmSwap|Threads):' "
        "/proc/$pid/status 2>/dev/null | tr -s ' \\t\\n' ' ')\"",
        "  printf 'L %s %s\\n' \"$pid\" \"$(awk '/^Max open files/ {print $4, $5}' "
        "/proc/$pid/limits 2>/dev/null)\"",
        "  printf 'F %s %s\\n' \"$pid\" \"$(ls /proc/$pid/fd 2>/dev/null | wc -l)\"",
        "  printf 'I %s %s\\n' \"$pid\" \"$(ls -l /proc/$pid/fd 2>/dev/null | "
        "sed -n 's/.*socket:\\[\\([0-9]*\\)\\].*/\\1/p' | tr '\\n' ' ')\"",
        f"  printf 'A %s %s\\n' \"$pid\" \"$({stat} 2>/dev/null)\"",
        "done",
        f"sleep {sample:g}",
        "echo \"$found\" | while read -r pid argv0; do [ -n \"$pid\" ] || continue",
        f"  printf 'B %s %s\\n' \"$pid\" \"$({stat} 2>/dev/null)\"",
        "done",
        "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | "
        "awk 'NR > 0 && $4 ~ /^[0-9A-F][0-9A-F]$/ { print \"N\", $10, $4 }'",
    ])


def parse_process_details(rc: int, text: str) -> dict[str, Any]:
    """``{"host": {mem_kb, swap_kb, cpus, clk_tck}, pid: {argv0, rss_kb, swap_kb, threads,
    nofile_soft, nofile_hard, fds, cpu_percent, iowait_percent, tcp: {STATE: n}}}``."""
    out: dict[str, Any] = {}
    sockets: dict[str, list[str]] = {}
    states: dict[str, str] = {}
    ticks: dict[str, list[list[int]]] = {}
    for line in text.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "M":
            mem, swap, cpus, clk = (int(v) if v.isdigit() else 0 for v in rest.split()[:4])
            out["host"] = {"mem_kb": mem, "swap_kb": swap, "cpus": cpus or 1,
                           "clk_tck": clk or 100}
            continue
        if tag == "N":
            inode, state = rest.split()[:2]
            states[inode] = TCP_STATES.get(state, state)
            continue
        pid, _, value = rest.partition(" ")
        if tag == "P":
            out[pid] = {"argv0": value.strip(), "tcp": {}}
        elif pid in out:
            _process_field(out[pid], tag, value, sockets, ticks, pid)
    if "host" not in out:
        raise FactUnavailable(f"no process details (exit {rc})")
    _cpu(out, ticks)
    for pid, inodes in sockets.items():
        for inode in inodes:
            if inode in states:
                tcp = out[pid]["tcp"]
                tcp[states[inode]] = tcp.get(states[inode], 0) + 1
    return out


def _process_field(proc: dict[str, Any], tag: str, value: str,
                   sockets: dict[str, list[str]], ticks: dict[str, list[list[int]]],
                   pid: str) -> None:
    words = value.split()
    if tag == "S":  # "VmRSS: 1234 kB VmSwap: 0 kB Threads: 5"
        names = {"VmRSS:": "rss_kb", "VmSwap:": "swap_kb", "Threads:": "threads"}
        for key, number in itertools.pairwise(words):
            if key in names and number.isdigit():
                proc[names[key]] = int(number)
    elif tag == "L" and len(words) >= 2:
        proc["nofile_soft"], proc["nofile_hard"] = (None if w == "unlimited" else int(w)
                                                    for w in words[:2])
    elif tag == "F" and words and words[0].isdigit():
        proc["fds"] = int(words[0])
    elif tag == "I":
        sockets[pid] = words
    elif tag in ("A", "B") and len(words) == 3 and all(w.isdigit() for w in words):
        ticks.setdefault(pid, []).append([int(w) for w in words])


def _cpu(out: dict[str, Any], ticks: dict[str, list[list[int]]]) -> None:
    """Percent of one CPU over the sample, as psutil's cpu_percent: (user + system) and the
    time blocked on I/O (delayacct_blkio_ticks)."""
    host = out.get("host") or {}
    per_second = float(host.get("clk_tck") or 100) * SAMPLE_SECONDS
    for pid, pair in ticks.items():
        if len(pair) == 2 and pid in out:
            (u0, s0, io0), (u1, s1, io1) = pair
            out[pid]["cpu_percent"] = round(100 * ((u1 + s1) - (u0 + s0)) / per_second, 1)
            out[pid]["iowait_percent"] = round(100 * (io1 - io0) / per_second, 1)



def _command(ctx: Context) -> str:
    """The details of the processes the selected requirements name by prefix (``needs``)."""
    return process_details_command(list(dict.fromkeys(ctx.needs.get("process_prefixes", ()))))


# bounded: the command sleeps SAMPLE_SECONDS on purpose; timeout(1) still ends it (not bounded)
section("process_details", _command)(parse_process_details)


__all__ = ["TCP_STATES", "parse_process_details", "process_details_command"]
