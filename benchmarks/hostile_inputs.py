"""Hostile input files through ``rs-preflight``: wall time, CPU time and peak RSS of each run.

    python3 benchmarks/hostile_inputs.py [--as site|waivers|baseline|catalogue]

Uses the fixed list of ``tests/test_hostile_inputs.py`` (alias bomb, 20 MB, not UTF-8, deep
nesting, directory, /dev/zero, FIFO); each run must end in exit 4 with a location. The tests
assert only safety bounds; the figures are measured here (README, "Input limits").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_hostile_inputs as hostile

OPTION = {"site": None, "waivers": "--waivers", "baseline": "--baseline",
          "catalogue": "--rs-catalogue"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as", dest="role", choices=sorted(OPTION), default="site")
    args = parser.parse_args()
    print(f"{'file':<12} {'exit':>4} {'wall s':>7} {'cpu s':>6} {'rss MB':>7}")
    for kind in hostile.HOSTILE:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            path = hostile.hostile(folder, kind, f"input.{args.role}")
            option = OPTION[args.role]
            argv = ["--site", str(path)] if option is None else [
                "--site", str(hostile.site(folder)), option, str(path)]
            run = hostile.run_cli(folder, *argv)
        print(f"{kind:<12} {run.code:>4} {run.wall_s:>7.2f} {run.cpu_s:>6.2f} "
              f"{run.rss_mb:>7.0f}")


if __name__ == "__main__":
    main()
