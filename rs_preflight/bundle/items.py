"""What the bundle collects on a host, as ONE shell script (one SSH round trip per host).

Every item runs under ``timeout`` on the host (``item_timeout``; the whole script under
``host_timeout``), its output (stdout and stderr) is capped on the host with ``tail -c`` (the
newest ``max_item_bytes`` are kept, like sos's ``--log-size``), and the whole script's output
with ``head -c max_host_bytes``. Items are framed between per-run random markers carrying the
exit code, start and end time and, for files, the file's size on the host.

The script goes to the host over stdin (``remote_command``), never as an argument (``ps``
would show it to every local user). What hosts print is data, never names: a frame header
counts only at the start of a line, a command line comes back hex-encoded and is escaped on
the runner (``escape_command_lines``: no newline or control character survives), and member
names come only from the fixed set built here (``allowed_path``, ``member_host``) — a frame
forged inside a process's arguments cannot name a member.

Read-only: the script only runs ``cat``, ``tail``, ``stat``, ``ps``, ``ss``, ``df``, ``findmnt``,
``lsblk``, ``free``, ``sysctl -a``, ``ulimit -a``, ``chronyc -n tracking|sources``,
``journalctl``, ``docker version|info|ps`` and ``docker compose version``; it writes nothing.
Container logs are read from Docker's json-file logs
(``<DockerRootDir>/containers/<id>/<id>-json.log``, the files ``docker logs`` reads), so they
are collected even when dockerd hangs. When ``docker version`` does not answer within the item
timeout, the other Docker items are skipped (one timeout, not five).

R-Service processes (per-process limits, open files, threads, TCP states, the Altcraft support
script's data for our processes): the names in ``PROCESSES`` plus every process whose parent is
a ``containerd-shim`` (a container's main process).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from rs_preflight.gather.facts import SECTIONS

PROCESSES = ("dockerd", "containerd", "chronyd", "ntpd", "systemd-timesyncd", "clacks",
             "delayed-job-periodic", "puma", "sidekiq", "rails", "ruby", "nginx", "haproxy",
             "redis-server", "rabbitmq-server", "beam.smp", "memcached", "postgres", "java",
             "node", "faye")
# Fact sections (rs_preflight.gather.facts) run in the same script and parsed into facts.json.
# An allow-list: sections that probe other hosts or write (flows, storage) are left out.
FACTS = ("os_release", "sysctl", "sysctl_persisted", "ulimit_nofile", "docker_version",
         "docker_compose", "daemon_json", "dockerd_limits", "containers", "chrony_tracking",
         "nproc", "mem_total_kb", "filesystems", "block_devices", "listening", "default_target")
DOCKER_FACTS = ("docker_version", "docker_compose", "containers")
ABSENT = 199      # our exit code for "this file does not exist on the host"
NOT_FOUND = 127   # the shell's "command not found"
TIMED_OUT = (124, 137)  # timeout(1): TERM sent, or KILL after -k


@dataclass(frozen=True)
class Item:
    """One thing to collect: ``path`` under ``hosts/<host>/``, a fixed shell command."""

    path: str
    command: str
    source: str = ""            # what the manifest shows; the command when empty
    kind: str = "command"       # command | file
    docker: bool = False        # only on Docker roles (RS-DOCKER-01's)

    @property
    def shown(self) -> str:
        return self.source or self.command


def _file(path: str, target: str, docker: bool = False) -> Item:
    q = shlex.quote(target)
    return Item(path, f"if [ -e {q} ]; then cat {q}; else exit {ABSENT}; fi", target, "file",
                docker)


def static_items(since: str) -> list[Item]:
    """The fixed items; ``since`` (user-supplied) is quoted."""
    s = shlex.quote(since)
    return [
        Item("os/uname.txt", "uname -a"),
        _file("os/os-release", "/etc/os-release"),
        Item("os/uptime.txt", "uptime"),
        # ps prints control characters in arguments as '?' (procps escape_command)
        Item("os/ps.txt", "ps -eo pid,ppid,user,nlwp,rss,vsz,stat,lstart,args"),
        Item("sysctl/all.txt", "sysctl -a 2>/dev/null"),
        Item("sysctl/persisted.txt", "grep -s -H '' /etc/sysctl.conf /etc/sysctl.d/*.conf; true",
             "/etc/sysctl.conf /etc/sysctl.d/*.conf"),
        Item("limits/ulimit-a.txt", "ulimit -a"),
        Item("limits/limits.d.txt", "grep -s -H '' /etc/security/limits.conf "
             "/etc/security/limits.d/*; true", "/etc/security/limits.conf limits.d/*"),
        Item("limits/dockerd.txt", "p=$(pgrep -xo dockerd) && cat /proc/$p/limits",
             "/proc/<dockerd>/limits", docker=True),
        Item("docker/version.txt", "docker version", docker=True),
        Item("docker/info.txt", "docker info", docker=True),
        Item("docker/ps.txt", "docker ps -a --no-trunc", docker=True),
        Item("docker/compose-version.txt", "docker compose version", docker=True),
        _file("docker/daemon.json", "/etc/docker/daemon.json", docker=True),
        Item("time/chrony-tracking.txt", "chronyc -n tracking"),
        Item("time/chrony-sources.txt", "chronyc -n sources -v"),
        Item("disks/df.txt", "df -hT"),
        Item("disks/findmnt.txt", "findmnt"),
        Item("disks/lsblk.txt", "lsblk"),
        Item("memory/free.txt", "free -m"),
        _file("memory/meminfo", "/proc/meminfo"),
        Item("network/listening.txt", "ss -ltnp"),
        Item("network/ss-summary.txt", "ss -s"),
        Item("network/tcp-states.txt", "ss -Htan | awk '{print $1}' | sort | uniq -c"),
        Item("processes/rservice.txt", _processes_command(), "per R-Service process: "
             "/proc/<pid>/{status,limits,fd} and its TCP states (ss -tanp)"),
        Item("journal/docker.txt", f"journalctl --no-pager -o short-iso -u docker.service "
             f"--since {s}", docker=True),
        Item("journal/chrony.txt", f"journalctl --no-pager -o short-iso -u chrony.service "
             f"-u chronyd.service --since {s}"),
    ]


def _processes_command() -> str:
    names = " ".join(shlex.quote(n[:15]) for n in PROCESSES)  # pgrep -x matches comm (15)
    return per_process(f"{{ for n in {names}; do pgrep -x -- \"$n\"; done; "
                       "for s in $(pgrep containerd-shim); do pgrep -P \"$s\"; done; } "
                       "| sort -un")


def per_process(pids: str) -> str:
    """For each PID the command ``pids`` prints: its command line (hex), status, open files,
    limits and TCP states (what Altcraft's support script collects, seeds/003 4.4)."""
    return (
        f"pids=$( {pids} ); "
        "tcp=$(ss -Htanp 2>/dev/null); "
        "for p in $pids; do [ -r /proc/$p/status ] || continue; "
        # the command line as hex: what a process put in its arguments cannot shape our
        # output (newlines, forged frames); decoded, escaped, redacted and cut on the runner
        f"echo \"=== pid $p: hex:$(od -An -v -tx1 /proc/$p/cmdline | tr -d ' \\n' "
        f"| head -c {2 * MAX_CMDLINE_BYTES})\"; "
        "grep -E '^(Name|State|PPid|Threads|VmRSS|VmSize):' /proc/$p/status; "
        "echo \"open files: $(ls /proc/$p/fd 2>/dev/null | wc -l)\"; cat /proc/$p/limits; "
        "echo 'tcp states:'; printf '%s\\n' \"$tcp\" | grep \"pid=$p,\" | awk '{print $1}' "
        "| sort | uniq -c; done; true")


PRELUDE = r"""
_now() { date +%s.%N 2>/dev/null || echo -; }
if command -v timeout >/dev/null 2>&1; then _t() { timeout -k 2 "$@"; }
else _t() { shift; "$@"; }; fi
_size() { if [ -n "$1" ]; then stat -c %s "$1" 2>/dev/null || echo -; else echo -; fi; }
# _item PATH SOURCE SIZEFILE COMMAND: one framed, timed, capped item
_item() {
  printf '\n%s B %s %s %s\n' "$M" "$(_now)" "$1" "$2"
  { _t "$T" sh -c "$4" </dev/null 2>&1; rc=$?
    printf '\n%s E %s %s %s\n' "$M" "$rc" "$(_now)" "$(_size "$3")"; } | tail -c "$C"
}
_ditem() {
  if [ "$D" = hung ]; then printf '\n%s B %s %s %s\n%s\n%s E 124 %s -\n' "$M" "$(_now)" "$1" "$2" \
    "skipped: docker version did not answer within ${T}s" "$M" "$(_now)"; else _item "$@"; fi
}
D=absent
if command -v docker >/dev/null 2>&1; then
  _t "$T" docker version >/dev/null 2>&1 </dev/null
  case $? in 0) D=ok;; 124|137) D=hung;; *) D=down;; esac
fi
"""

CONTAINER_LOGS = r"""
R=/var/lib/docker
if [ "$D" = ok ]; then
  R=$(_t "$T" docker info --format '{{.DockerRootDir}}' 2>/dev/null </dev/null) || R=/var/lib/docker
fi
[ -d "$R/containers" ] || R=/var/lib/docker
n=0
for d in "$R"/containers/*/; do
  id=$(basename "$d"); case $id in *[!0-9a-f]*|'') continue;; esac
  f="$d$id-json.log"; [ -f "$f" ] || continue
  n=$((n+1))
  if [ "$n" -gt "$NC" ]; then
    printf '\n%s B %s containers/more.txt -\n%s E 0 %s -\n' "$M" "$(_now)" "$M" "$(_now)"; break
  fi
  F=$f; export F L
  _item "containers/$(printf %.12s "$id")-json.log" "$f" "$f" 'tail -n "$L" -- "$F"'
done
"""


def build_script(marker: str, items: Iterable[Item], facts: Iterable[str], *, ctx: object,
                 item_timeout: float, max_item_bytes: int, log_lines: int,
                 max_containers: int, docker: bool) -> str:
    """The host's script. ``ctx`` is the facts ``Context`` (sections may depend on it)."""
    q = shlex.quote
    tail = max_item_bytes + 256  # room for the end marker: more than the cap means truncated
    lines = [f"M={q(marker)}; T={int(max(1, item_timeout))}; C={tail}; L={int(log_lines)}; "
             f"NC={int(max_containers)}; export M", PRELUDE]
    for name in facts:
        if name in DOCKER_FACTS and not docker:
            continue
        cmd = SECTIONS[name].command(ctx)  # type: ignore[arg-type]
        fn = "_ditem" if name in DOCKER_FACTS else "_item"
        lines.append(f"{fn} {q('@fact/' + name)} '' '' {q(cmd)}")
    for item in items:
        if item.docker and not docker:
            continue
        size_file = item.source if item.kind == "file" else ""
        fn = "_ditem" if item.command.startswith("docker ") else "_item"  # asks dockerd
        lines.append(f"{fn} {q(item.path)} '' {q(size_file)} {q(item.command)}")
    if docker:
        lines.append(CONTAINER_LOGS)
    return "\n".join(lines) + "\n"


def remote_command(host_timeout: float, max_host_bytes: int) -> str:
    """The command the host runs: it reads the script from stdin (whole, before running it:
    no item can read the rest of the script), under the host's time budget and size cap."""
    t = int(max(1, host_timeout))
    return (f"if command -v timeout >/dev/null 2>&1; then H='timeout -k 5 {t}'; else H=; fi; "
            f"$H sh -c 'S=$(cat); exec </dev/null; eval \"$S\"' 2>&1 "
            f"| head -c {int(max_host_bytes)}")


CONTAINER_LOG = re.compile(r"containers/[0-9a-f]{12}-json\.log")
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")


@cache
def _static_paths() -> frozenset[str]:
    return frozenset(i.path for i in static_items(""))


PRODUCT_PATH = re.compile(r"product/(versions|logs-\d{1,2})\.txt|processes/product\.txt")


def allowed_path(path: str) -> bool:
    """Whether ``path`` is one the collector asked for (the only names a member can have):
    the fixed items, container logs, and the product's own (``bundle/product.py``)."""
    if path.startswith("@fact/"):
        return path[6:] in FACTS
    return path in _static_paths() or path == "containers/more.txt" or bool(
        CONTAINER_LOG.fullmatch(path) or PRODUCT_PATH.fullmatch(path))


def member_host(name: str) -> str:
    """A site host's name as a folder of the archive; anything else is refused."""
    if not HOST_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"host name {name!r} cannot name a folder of the bundle")
    return name


CMDLINE = re.compile(r"^(=== pid \d+: )hex:([0-9a-f]*)$", re.MULTILINE)
SHOWN_CMDLINE = re.compile(r"^(=== pid \d+: )(.*)$", re.MULTILINE)
MAX_CMDLINE_BYTES = 8192  # read per process; the member keeps MAX_CMDLINE_CHARS after redaction
MAX_CMDLINE_CHARS = 400


def _escape(arg: bytes) -> str:
    text = arg.decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() and c != "\\" else
                   c.encode("unicode_escape").decode("ascii") if c != "\\" else "\\\\"
                   for c in text)


def escape_command_lines(text: str) -> str:
    """``=== pid N: hex:…`` lines → the arguments, space-separated, each escaped (no
    newline, no control character; a backslash doubled). Not cut: redact, then
    ``cut_command_lines``."""
    def one(m: re.Match[str]) -> str:
        raw = bytes.fromhex(m.group(2)[: len(m.group(2)) // 2 * 2])
        return m.group(1) + " ".join(_escape(a) for a in raw.rstrip(b"\0").split(b"\0"))
    return CMDLINE.sub(one, text)


def cut_command_lines(text: str) -> str:
    """Each command line cut to ``MAX_CMDLINE_CHARS`` (on redacted text only)."""
    def one(m: re.Match[str]) -> str:
        line = m.group(2)
        if len(line) <= MAX_CMDLINE_CHARS:
            return m.group(0)
        return f"{m.group(1)}{line[:MAX_CMDLINE_CHARS]} [… cut]"
    return SHOWN_CMDLINE.sub(one, text)


@dataclass
class Frame:
    """One item's raw output as it came back."""

    path: str
    source: str
    data: bytes
    rc: int | None          # None: the frame never ended (host budget or cap ran out)
    duration_s: float | None
    source_size: int | None
    truncated: bool


def _float(text: bytes) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse(output: bytes, marker: str, max_item_bytes: int) -> list[Frame]:
    """Split the script's output into frames; enforce the per-item cap exactly."""
    mark = re.escape(marker.encode())
    # a header counts only at the start of a line (what an item prints in mid-line is data)
    pattern = re.compile(rb"(?:\A|\n)" + mark + rb" ([BE]) ([^\n]*)(?:\n|$)")
    frames: list[Frame] = []
    current: tuple[str, str, float | None, int] | None = None  # path, source, start, offset
    for m in pattern.finditer(output):
        kind, rest = m.group(1), m.group(2)
        if kind == b"B":
            if current is not None:  # the previous frame never ended
                frames.append(_frame(current, output[current[3]:m.start()], None, None, None,
                                     max_item_bytes))
            start, _, tail = rest.partition(b" ")
            path, _, source = tail.partition(b" ")
            current = (path.decode(errors="replace"), source.decode(errors="replace"),
                       _float(start), m.end())
        elif current is not None:
            rc, end, size = [*rest.split(b" "), b"-", b"-"][:3]
            frames.append(_frame(current, output[current[3]:m.start()], int(rc or 1),
                                 _float(end), int(size) if size.isdigit() else None,
                                 max_item_bytes))
            current = None
    if current is not None:
        frames.append(_frame(current, output[current[3]:], None, None, None, max_item_bytes))
    return frames


def _frame(current: tuple[str, str, float | None, int], data: bytes, rc: int | None,
           end: float | None, size: int | None, cap: int) -> Frame:
    path, source, start, _ = current
    truncated = len(data) > cap
    if truncated:
        data = data[-cap:]  # the newest part, like sos --log-size
    duration = round(end - start, 3) if end is not None and start is not None else None
    return Frame(path, source, data, rc, duration, size, truncated)
