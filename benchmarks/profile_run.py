"""Profile one rs-preflight run in every thread: where the runner's CPU goes.

    python3 benchmarks/profile_run.py OUT.pstats -- --site site.yaml --phase post -q

Runs ``rs_preflight.cli.main`` in this process with a ``cProfile`` per thread (the main
thread: pytest, the checks, the reports; the gathering pool's threads; paramiko's transport
threads), timed with ``time.thread_time`` so each function is charged the CPU its thread
spent, not the time it waited. The profiles are merged into ``OUT.pstats`` and the top
functions printed (self CPU and cumulative CPU). ``scale.py --profile DIR`` drives this on its
lab; see benchmarks/PROFILE.md for a reading. cProfile's own overhead inflates the figures
(≈1.5-2×): compare shares, not absolute seconds.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import threading
import time
from typing import Any

_profiles: list[cProfile.Profile] = []
_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


def _profiled_bootstrap(self: threading.Thread) -> None:
    # _bootstrap_inner, not run: paramiko's Transport and threading.Timer override run().
    prof = cProfile.Profile(time.thread_time)
    _profiles.append(prof)
    prof.enable()
    try:
        _bootstrap_inner(self)
    finally:
        prof.disable()


def top(stats: pstats.Stats, key: str, count: int) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats(key).print_stats(count)
    return out.getvalue()


def main(argv: list[str]) -> int:
    out, _, cli_args = argv[0], argv[1], argv[2:]
    from rs_preflight.cli import main as cli_main

    threading.Thread._bootstrap_inner = _profiled_bootstrap  # type: ignore[attr-defined]
    prof = cProfile.Profile(time.thread_time)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    prof.enable()
    try:
        code = cli_main(cli_args)
    finally:
        prof.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stats = pstats.Stats(prof)
    for other in list(_profiles):
        stats.add(other)
    stats.dump_stats(out)
    main_only = pstats.Stats(prof)
    report: dict[str, Any] = {"exit": code, "wall_s": round(wall, 2),
                              "process_cpu_s": round(cpu, 2), "threads": len(_profiles) + 1}
    print(f"profile: {report}", file=sys.stderr)
    print("== all threads, by self CPU ==\n" + top(stats, "tottime", 45))
    print("== all threads, by cumulative CPU ==\n" + top(stats, "cumulative", 60))
    print("== main thread only, by cumulative CPU ==\n" + top(main_only, "cumulative", 60))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
