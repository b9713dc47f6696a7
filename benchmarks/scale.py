"""Benchmark: the full host gate at scale, against the SSH floor and a naive testinfra suite.

Brings up the largest N of ``--hosts`` bare lab hosts (a network namespace each with its own
OpenSSH sshd, ``rs_lab.hosts``; every host role ``app``, phase post, no services), then runs,
interleaved over ``--rounds`` rounds (the order of the ways rotates each round), for each N on
the first N hosts:

- **floor**: ``scale_floor.py``, a parallel paramiko client with TCP_NODELAY and strict host
  keys, one connection per host, one command printing ~40 facts;
- **rs-preflight**: ``python -m rs_preflight.cli --site S --phase post`` (this checkout) on a
  generated site file, host keys checked against the lab's generated known_hosts;
- **naive**: ``scale_naive.py`` copied into a temp folder, pytest-testinfra, one command per
  check, hosts in series — only for N <= ``--naive-max`` (it is slow);
- **gather**, **gather narrow**, **gather work64** (``--ways …,gather``): ``scale_gather.py``,
  the gathering alone (one ``RunState``, no pytest) as this checkout does it, with connects as
  narrow as the work (as before), and with 64 hosts worked on at once: what the gathering and
  unreachable hosts cost before the first check.

Each way runs as a child process and is measured from outside: wall time, runner CPU (the
child's user+sys with its own children, ``os.wait4``), peak RSS of the runner (``ru_maxrss``),
and the hosts' CPU (every process of the lab hosts' PID namespaces: sshd, its sessions and the
commands they ran; ``/proc/<pid>/stat`` utime+stime+cutime+cstime, summed from each host's
PID 1 down). For rs-preflight also the round trips its results.json counts, and the CPU of
its busiest child process (an xdist worker under ``-n``; polled while it lives). Prints
medians as a Markdown table, then the ratios.

    python3 benchmarks/scale.py --hosts 19,100 --rounds 3 --naive-max 19
    python3 benchmarks/scale.py --hosts 19,100 --ways rs-preflight --variant 'n2=-n 2'
    python3 benchmarks/scale.py --hosts 100 --unreachable 10%   # a tenth drop SYNs to :22

``--unreachable P%``: that share of the hosts drops every SYN to port 22 (nftables in its own
namespace), so the question is whether the unreachable hosts cost one connect timeout in total
or one each (the naive way is not run then: testinfra would wait per check).

Root, Linux; set RS_LAB_PREFIX/RS_LAB_NET like for the lab. Above 253 hosts the lab's IPv4 net
is widened to 10.<net>.0.0/16 (``RS_LAB_NET_PREFIXLEN``, still this lab's own addresses). Every
namespace made here is removed at the end, also on Ctrl-C or SIGTERM. Speed is measured here,
never asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rs_lab is imported once the network is chosen (prepare_network)
    from rs_lab.hosts import HostLab, LabHost

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
FIRST_INDEX = 2  # .1 is the runner's address on the lab bridge
BATCH = 32  # hosts brought up at once (each is a few `ip`, ssh-keygen and a copy)
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """One run of one way, measured from outside."""

    way: str
    hosts: int
    round: int
    wall_s: float
    runner_cpu_s: float
    hosts_cpu_s: float
    peak_rss_mb: float
    code: int
    note: str
    round_trips: int = 0  # what results.json's host table counts (rs-preflight only)
    busiest_child_cpu_s: float = 0.0  # the busiest child process (an xdist worker), polled


# -- the lab ---------------------------------------------------------------------------------


def prepare_network(max_hosts: int) -> None:
    """Widen the lab's IPv4 net when the hosts do not fit in a /24 (before rs_lab is imported)."""
    if FIRST_INDEX + max_hosts > 254:
        os.environ.setdefault("RS_LAB_NET_PREFIXLEN", "16")


NEIGH_KEYS = [f"net.{family}.neigh.default.gc_thresh{n}" for family in ("ipv4", "ipv6")
              for n in (1, 2, 3)]


@contextlib.contextmanager
def neighbour_room(max_hosts: int) -> Iterator[None]:
    """Room in the runner's neighbour (ARP/NDP) tables for every lab host, restored after.

    The defaults (gc_thresh3 = 1024 entries, shared with every other lab of the machine)
    overflow near 900 hosts: the kernel logs "neighbor table overflow" and drops the packets
    to hosts it has no entry for — in a first 900-host run 38 hosts looked unreachable to the
    floor. Each threshold is raised to at least four entries per host (never lowered)."""
    from rs_lab.netns import sh

    before = {key: int(sh(["sysctl", "-n", key]).stdout) for key in NEIGH_KEYS}
    wanted = {key: max(value, (max_hosts * 4) // (4 - int(key[-1])))
              for key, value in before.items()}  # thresh1 ×4/3, thresh2 ×4/2, thresh3 ×4
    changed = {k: v for k, v in wanted.items() if v != before[k]}
    for key in sorted(changed, key=lambda k: -int(k[-1])):  # 3 before 2 before 1
        sh(["sysctl", "-q", "-w", f"{key}={changed[key]}"])
    try:
        yield
    finally:
        for key in sorted(changed, key=lambda k: int(k[-1])):
            sh(["sysctl", "-q", "-w", f"{key}={before[key]}"], check=False)


def bring_up(lab: HostLab, count: int, unreachable: float) -> list[LabHost]:
    """``count`` bare hosts in batches; every round(1/unreachable)-th drops SYNs to :22."""
    from rs_lab.hosts import HostSpec, os_release

    every = round(1 / unreachable) if unreachable else 0
    specs = [HostSpec(f"sc{i:03d}", FIRST_INDEX + i, os_release("ubuntu", "24.04"),
                      nft_rules=["tcp dport 22 drop"] if every and i % every == every - 1
                      else [])
             for i in range(count)]
    hosts: list[LabHost] = []
    for start in range(0, count, BATCH):
        hosts += lab.add_many(specs[start:start + BATCH])
    return hosts


def check_bridge() -> None:
    """The runner must reach every host: a bridge left with a /24 cannot reach 10.<net>.1.x."""
    from rs_lab.netns import BRIDGE, SUBNET4, sh

    out = sh(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE]).stdout
    if f"/{SUBNET4.prefixlen} " not in out:
        raise SystemExit(f"{BRIDGE} does not carry a /{SUBNET4.prefixlen} ({out.strip()}): "
                         "another run of this lab holds it; stop it first")


def host_tree_cpu(pid1: int) -> float:
    """CPU seconds of every process in a host's PID namespace, dead (reaped) ones included."""
    total, todo = 0, [pid1]
    while todo:
        pid = todo.pop()
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        todo += [int(k) for k in kids]
    return total / CLK_TCK


def hosts_cpu(pids: Sequence[int]) -> float:
    return sum(host_tree_cpu(p) for p in pids)


def own_cpu(pid: int) -> float:
    """CPU seconds of one process itself (utime + stime), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        try:
            kids = [int(k) for k in
                    Path(f"/proc/{todo[0]}/task/{todo[0]}/children").read_text().split()]
        except OSError:
            kids = []
        todo = todo[1:] + kids
        out += kids
    return out


class ChildWatch:
    """The CPU of each child process of a run (the xdist workers), last seen every 0.2 s: a
    child reaped by its parent is folded into the parent's cutime, so it is read while it
    lives (a worker's last 0.2 s may be missed: a lower bound)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.cpu = pid, dict[int, float]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for child in descendants(self.pid):
                self.cpu[child] = max(self.cpu.get(child, 0.0), own_cpu(child))

    def busiest(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.cpu.values(), default=0.0)


def round_trips(cwd: Path) -> int:
    """The round trips rs-preflight's host table counts (0 for the other ways)."""
    report = cwd / "rs-preflight-report" / "results.json"
    try:
        hosts = json.loads(report.read_text())["hosts"]
    except (OSError, ValueError, KeyError):
        return 0
    return sum(int(h.get("round_trips") or 0) for h in hosts.values())


# -- the three ways --------------------------------------------------------------------------


def child_env(root: Path = ROOT) -> dict[str, str]:
    """This checkout (or ``root``) first on the path (the editable install may point
    elsewhere)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))}


def measure(argv: list[str], cwd: Path, timeout: float, root: Path = ROOT,
            watch: list[float] | None = None) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s, peak RSS MB, exit code, output tail) of one child run; killed after
    ``timeout`` (a safety bound, not a measurement). ``watch`` gets the CPU of the run's
    busiest child process appended."""
    log = cwd / "output.txt"
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=child_env(root), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        children = ChildWatch(proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C, SIGTERM: the run must not outlive the lab
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
            busiest = children.busiest()
        wall = time.perf_counter() - t0
        if watch is not None:
            watch.append(busiest)
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
    return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode,
            tail[0][:120])


def write_inputs(folder: Path, lab: HostLab, hosts: list[LabHost], timeout: float,
                 workers: int) -> dict[str, Path]:
    """The site file, the floor's host list and the naive suite, per N (under ``folder``)."""
    addrs = [h.ipv4 for h in hosts]
    names = [h.name for h in hosts]
    folder.mkdir(parents=True, exist_ok=True)
    site = folder / "site.yaml"
    site.write_text("\n".join(
        ["name: scale", "profile: small", "phase: post", "ssh:", "  user: root",
         f"  identity_file: {lab.identity_file}", f"  known_hosts: {lab.known_hosts}",
         "  host_key_policy: strict", f"  connect_timeout: {timeout:g}",
         "  command_timeout: 60", "hosts:"]
        + [f"  {n}: {{address: {a}, roles: [app]}}" for n, a in zip(names, addrs, strict=True)])
        + "\n")
    floor = folder / "floor.json"
    floor.write_text(json.dumps({"user": "root", "identity_file": str(lab.identity_file),
                                 "known_hosts": str(lab.known_hosts), "connect_timeout": timeout,
                                 "workers": workers, "addresses": addrs}))
    naive = folder / "naive"
    naive.mkdir(exist_ok=True)
    shutil.copy(HERE / "scale_naive.py", naive / "test_naive.py")
    (naive / "hosts.txt").write_text(",".join(f"paramiko://root@{a}" for a in addrs))
    return {"site": site, "floor": floor, "naive": naive}


# the gathering alone (scale_gather.py): as this checkout does it; connects as narrow as the
# work (as before pipeline.py); and with 64 hosts worked on at once (the floor's width)
GATHER_WAYS = {"gather": [], "gather narrow": ["16", "16"], "gather work64": ["128", "64"]}


def way_argv(way: str, inputs: dict[str, Path], identity: Path,
             variants: dict[str, list[str]]) -> list[str]:
    if way == "floor":
        return [sys.executable, str(HERE / "scale_floor.py"), str(inputs["floor"])]
    if way in GATHER_WAYS:
        return [sys.executable, str(HERE / "scale_gather.py"), str(inputs["site"]),
                *GATHER_WAYS[way]]
    if way.startswith("rs-preflight"):
        return [sys.executable, "-m", "rs_preflight.cli", "--site", str(inputs["site"]),
                "--phase", "post", "-q", *variants.get(way, [])]
    hosts = (inputs["naive"] / "hosts.txt").read_text()
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", "no:rs_preflight.plugin", "--rootdir", str(inputs["naive"]),
            f"--hosts={hosts}", f"--ssh-identity-file={identity}", "-W", "ignore",
            str(inputs["naive"] / "test_naive.py")]


# -- the run ---------------------------------------------------------------------------------


def run_rounds(args: argparse.Namespace, lab: HostLab, hosts: list[LabHost], tmp: Path
               ) -> list[Sample]:
    samples: list[Sample] = []
    inputs = {n: write_inputs(tmp / f"n{n}", lab, hosts[:n], args.connect_timeout,
                              args.floor_workers) for n in args.hosts}
    for rnd in range(args.rounds):
        for n in args.hosts:
            ways = ["floor", "rs-preflight", *args.variant]
            if n <= args.naive_max and not args.unreachable:
                ways.append("naive")
            if args.ways is not None and "gather" in args.ways:  # the gathering alone
                ways += list(GATHER_WAYS)
            ways = [w for w in ways if args.ways is None or w.split()[0] in args.ways]
            shift = rnd % len(ways)
            for way in ways[shift:] + ways[:shift]:
                pids = [h.pid1 for h in hosts[:n]]
                cwd = tmp / f"n{n}" / f"{way.replace(' ', '_')}-{rnd}"
                cwd.mkdir()
                before = hosts_cpu(pids)
                root = args.checkout.get(way, ROOT)
                busiest: list[float] = []
                wall, cpu, rss, code, note = measure(
                    way_argv(way, inputs[n], lab.identity_file, args.variant), cwd,
                    args.run_timeout, root, busiest)
                time.sleep(0.3)  # let the last sessions end and be reaped (not timed)
                sample = Sample(way, n, rnd, wall, cpu, hosts_cpu(pids) - before, rss, code,
                                note, round_trips(cwd), busiest[0])
                samples.append(sample)
                print(f"round {rnd + 1}/{args.rounds} N={n:<4} {way:<20} wall {wall:7.2f} s "
                      f"runner CPU {cpu:7.2f} s hosts CPU {sample.hosts_cpu_s:7.2f} s "
                      f"RSS {rss:6.0f} MB exit {code} round trips {sample.round_trips} "
                      f"busiest child CPU {sample.busiest_child_cpu_s:.2f} s  {note}",
                      file=sys.stderr, flush=True)
    return samples


def profile(args: argparse.Namespace, lab: HostLab, hosts: list[LabHost], tmp: Path) -> None:
    """One rs-preflight run under each profiler, at the largest N; outputs into args.profile."""
    out: Path = args.profile.absolute()
    out.mkdir(parents=True, exist_ok=True)
    n = args.hosts[-1]
    inputs = write_inputs(tmp / "profile", lab, hosts, args.connect_timeout, args.floor_workers)
    cli = ["--site", str(inputs["site"]), "--phase", "post", "-q"]
    runs = {"cprofile": [sys.executable, str(HERE / "profile_run.py"),
                         str(out / f"rs-preflight-{n}.pstats"), "--", *cli],
            "pyinstrument": [sys.executable, "-m", "pyinstrument", "-r", "text",
                             "--show-all", "-o", str(out / f"pyinstrument-{n}.txt"),
                             "-m", "rs_preflight.cli", *cli]}
    for name, argv in runs.items():
        cwd = tmp / "profile" / name
        cwd.mkdir()
        wall, cpu, rss, code, _ = measure(argv, cwd, args.run_timeout)
        shutil.copy(cwd / "output.txt", out / f"{name}-{n}.out")
        print(f"profile {name} N={n}: wall {wall:.2f} s runner CPU {cpu:.2f} s RSS {rss:.0f} "
              f"MB exit {code}; {out}", file=sys.stderr, flush=True)


def median(samples: list[Sample], way: str, n: int, attr: str) -> float | None:
    values = [getattr(s, attr) for s in samples if s.way == way and s.hosts == n]
    return statistics.median(values) if values else None


def table(samples: list[Sample], sizes: list[int], rounds: int, note: str,
          variants: Sequence[str]) -> str:
    out = [f"Medians of {rounds} interleaved round(s){note}.", "",
           "| hosts | way | wall | runner CPU | runner CPU / host | hosts' CPU | peak RSS |",
           "|---|---|---|---|---|---|---|"]
    for n in sizes:
        for way in ("floor", "rs-preflight", *variants, "naive", *GATHER_WAYS):
            wall = median(samples, way, n, "wall_s")
            if wall is None:
                continue
            cpu = median(samples, way, n, "runner_cpu_s") or 0.0
            hcpu = median(samples, way, n, "hosts_cpu_s") or 0.0
            rss = median(samples, way, n, "peak_rss_mb") or 0.0
            out.append(f"| {n} | {way} | {wall:.2f} s | {cpu:.2f} s | {1000 * cpu / n:.0f} ms "
                       f"| {hcpu:.2f} s | {rss:.0f} MB |")
    out += ["", "| hosts | way | wall ÷ floor | naive wall ÷ this | runner CPU ÷ floor "
                "| hosts' CPU ÷ floor |", "|---|---|---|---|---|---|"]
    for n in sizes:
        for way in ("rs-preflight", *variants):
            if median(samples, way, n, "wall_s") is None:
                continue
            cells = [ratio(median(samples, a, n, attr), median(samples, b, n, attr))
                     for a, b, attr in ((way, "floor", "wall_s"), ("naive", way, "wall_s"),
                                        (way, "floor", "runner_cpu_s"),
                                        (way, "floor", "hosts_cpu_s"))]
            out.append(f"| {n} | {way} | {' | '.join(cells)} |")
    if any(s.round_trips or s.busiest_child_cpu_s for s in samples):
        out += ["", "| hosts | way | round trips | runner CPU | busiest child (xdist worker) "
                    "CPU | controller and other children |", "|---|---|---|---|---|---|"]
        for n in sizes:
            for way in ("rs-preflight", *variants):
                trips = median(samples, way, n, "round_trips")
                if trips is None:
                    continue
                cpu = median(samples, way, n, "runner_cpu_s") or 0.0
                child = median(samples, way, n, "busiest_child_cpu_s") or 0.0
                out.append(f"| {n} | {way} | {trips:.0f} | {cpu:.2f} s | "
                           f"{f'{child:.2f} s' if child else '—'} | "
                           f"{f'{cpu - child:.2f} s' if child else '—'} |")
    return "\n".join(out)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}×" if a is not None and b else "—"


def variant(text: str) -> tuple[str, list[str]]:
    name, sep, extra = text.partition("=")
    if not sep or not name.strip() or not extra.split():
        raise argparse.ArgumentTypeError("give NAME=PYTEST ARGS, e.g. 'lean=--assert=plain'")
    return f"rs-preflight {name.strip()}", extra.split()


def checkout(text: str) -> tuple[str, Path, list[str]]:
    name, sep, rest = text.partition("=")
    folder, *extra = rest.split() or [""]
    if not sep or not name.strip() or not Path(folder, "rs_preflight").is_dir():
        raise argparse.ArgumentTypeError("give NAME=DIR [PYTEST ARGS], DIR a checkout with "
                                         "rs_preflight/")
    return f"rs-preflight {name.strip()}", Path(folder).resolve(), extra


def percent(text: str) -> float:
    value = float(text.rstrip("%")) / 100
    if not 0 <= value <= 0.5:
        raise argparse.ArgumentTypeError("give a share between 0% and 50%, e.g. 10%")
    return value


def sizes(text: str) -> list[int]:
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError as exc:
        raise argparse.ArgumentTypeError("give host counts like 19,100,200") from exc
    if not values or values[0] < 1 or values[-1] > 2000:
        raise argparse.ArgumentTypeError("host counts between 1 and 2000")
    return values


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=sizes, default=sizes("19,100,200,500"),
                    help="host counts, comma-separated (default 19,100,200,500)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--naive-max", type=int, default=19,
                    help="run the naive suite only up to this many hosts (default 19)")
    ap.add_argument("--unreachable", type=percent, default=0.0, metavar="P%",
                    help="share of hosts that drop SYNs to port 22, e.g. 10%%")
    ap.add_argument("--variant", type=variant, action="append", default=[],
                    metavar="NAME=ARGS",
                    help="also run rs-preflight with these extra pytest arguments as way "
                         "'rs-preflight NAME' (repeatable), e.g. 'lean=--assert=plain --tb=no'")
    ap.add_argument("--checkout", type=checkout, action="append", default=[],
                    metavar="NAME=DIR [ARGS]",
                    help="also run rs-preflight from another checkout (e.g. `git archive main` "
                         "unpacked in DIR), with these extra pytest arguments if given, as way "
                         "'rs-preflight NAME' (repeatable): before/after, interleaved, e.g. "
                         "'main-n2=/tmp/co-main -n 2'")
    ap.add_argument("--ways", type=lambda t: set(t.split(",")), metavar="W,W",
                    help="run only these of floor, rs-preflight (with its variants), naive, "
                         "gather (the gathering alone, scale_gather.py: connects wide, and "
                         "'gather narrow' as before; only when named here)")
    ap.add_argument("--connect-timeout", type=float, default=5.0,
                    help="seconds, for rs-preflight's site and the floor (default 5)")
    ap.add_argument("--floor-workers", type=int, default=64,
                    help="parallel connections of the floor client (default 64)")
    ap.add_argument("--run-timeout", type=float, default=1800,
                    help="safety bound per run in seconds; the run is killed after it")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write every sample here")
    ap.add_argument("--profile", type=Path, metavar="DIR",
                    help="after the rounds, profile one rs-preflight run at the largest N "
                         "(profile_run.py: cProfile in every thread; pyinstrument: the main "
                         "thread's call tree) into DIR; --rounds 0 profiles only")
    return ap


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.variant = dict(args.variant)
    args.variant.update({way: extra for way, _, extra in args.checkout})
    args.checkout = {way: folder for way, folder, _ in args.checkout}
    if not (1 if args.profile is None else 0) <= args.rounds <= 50:
        parser().error("--rounds between 1 and 50 (0 with --profile)")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` tears the lab down like Ctrl-C
    prepare_network(args.hosts[-1])
    sys.path.insert(0, str(ROOT))
    from rs_lab.hosts import HostLab
    from rs_lab.netns import bridge_down_if_unused

    with tempfile.TemporaryDirectory(prefix="rs-scale-") as tmp:
        try:
            with neighbour_room(args.hosts[-1]), HostLab(Path(tmp) / "lab") as lab:
                t0 = time.perf_counter()
                hosts = bring_up(lab, args.hosts[-1], args.unreachable)
                check_bridge()
                print(f"{len(hosts)} lab hosts up in {time.perf_counter() - t0:.1f} s",
                      file=sys.stderr, flush=True)
                samples = run_rounds(args, lab, hosts, Path(tmp))
                if args.profile:
                    profile(args, lab, hosts, Path(tmp))
        finally:
            bridge_down_if_unused()
    if not samples:
        return 0
    note = (f", {args.unreachable:.0%} of the hosts unreachable (SYNs dropped), connect "
            f"timeout {args.connect_timeout:g} s" if args.unreachable else "")
    print(table(samples, args.hosts, args.rounds, note, list(args.variant)))
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in samples], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
