"""rs-preflight run as a user runs it — the command in a folder of its own — and what it said.

The lab tests drive the product only through this: ``python -m rs_preflight.cli --site FILE
[args]`` in ``cwd``, then ``cwd/rs-preflight-report/results.json``. The source tree is put first
on ``PYTHONPATH``, so the checkout under test runs even if another one is installed.

>>> run = run_preflight(site_file, "-k", "RS-OS", cwd=tmp_path)
>>> run["RS-OS-01"]["outcome"], run.code
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rs_lab.netns import LabError

ROOT = Path(__file__).resolve().parents[1]
Record = dict[str, Any]


@dataclass(frozen=True)
class Run:
    """One run: its exit code, its results.json, its terminal output."""

    code: int
    doc: dict[str, Any]
    output: str
    folder: Path

    @property
    def records(self) -> dict[tuple[str, str | None], Record]:
        """Every result by (requirement, host); host is None for site-level checks."""
        return {(r["requirement"], r["host"]): r for r in self.doc["results"]}

    def __getitem__(self, requirement: str) -> Record:
        """The one result of ``requirement`` (an assertion names the run if there are more)."""
        found = [r for r in self.doc["results"] if r["requirement"] == requirement]
        assert len(found) == 1, (requirement, len(found), self.output[-3000:])
        record: Record = found[0]
        return record


def run_preflight(site: Path, *args: str, cwd: Path, timeout: float = 300) -> Run:
    """``rs-preflight --site site *args`` in ``cwd``; raises LabError if it wrote no results."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
    proc = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "--site", str(site), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    output = proc.stdout + proc.stderr
    report = cwd / "rs-preflight-report" / "results.json"
    if not report.exists():
        raise LabError(f"rs-preflight wrote no results (exit {proc.returncode}):\n"
                       f"{output[-4000:]}")
    return Run(proc.returncode, json.loads(report.read_text()), output, cwd)
