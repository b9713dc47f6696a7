"""Hostile input files through the ``rs-preflight`` command: each ends in exit 4 with a location.

A fixed list — an alias bomb, a 20 MB file, bytes that are not UTF-8, 20 000-deep nesting, a
directory, ``/dev/zero``, a FIFO — given as the site, an .env file, a waivers file, a baseline
and a catalogue. Each run is one subprocess whose own resource usage (``os.wait4``) is checked
against safety bounds: 5 s of CPU, 200 MB peak RSS, and a wall-clock limit that only a hang
reaches (the machine may be shared; ``benchmarks/hostile_inputs.py`` measures the figures).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CPU_S, RSS_MB, WALL_S = 5.0, 200, 60.0


@dataclass
class Run:
    code: int
    stderr: str
    wall_s: float
    cpu_s: float
    rss_mb: float


def run_cli(cwd: Path, *args: str) -> Run:
    """``python -m rs_preflight.cli ARGS`` with its own rusage; killed past ``WALL_S``."""
    err = cwd / "stderr.txt"
    with err.open("wb") as stderr:
        begun = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "rs_preflight.cli", *args], cwd=cwd,
                                env=ENV, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - begun > WALL_S:
                os.kill(proc.pid, signal.SIGKILL)  # our child, by its PID
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Run(proc.returncode, err.read_text(errors="replace"), time.monotonic() - begun,
               usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def alias_bomb(path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path.write_text("name: bomb\n" + "\n".join(lines) + "\n")  # about 1 KB, 9**10 values


def twenty_mb(path: Path) -> None:
    host = "  h{0}: {{address: 10.0.{1}.{2}, roles: [app]}}\n"
    with path.open("w") as out:
        out.write("name: big\nhosts:\n")
        for i in range(400_000):
            out.write(host.format(i, i // 250 % 250, i % 250 + 1))


def not_utf8(path: Path) -> None:
    path.write_bytes(b"name: x\nhosts: {}\n# caf\xe9 \xff\xfe\n")


def deep(path: Path) -> None:
    path.write_text("name: " + "[" * 20_000 + "]" * 20_000 + "\n")


def directory(path: Path) -> None:
    path.mkdir()


def fifo(path: Path) -> None:
    os.mkfifo(path)


MAKERS: dict[str, Callable[[Path], None]] = {
    "alias-bomb": alias_bomb, "20MB": twenty_mb, "not-utf8": not_utf8, "deep": deep,
    "directory": directory, "fifo": fifo}
HOSTILE = [*MAKERS, "dev-zero"]


def hostile(tmp_path: Path, kind: str, name: str) -> Path:
    if kind == "dev-zero":
        return Path("/dev/zero")
    path = tmp_path / name
    MAKERS[kind](path)
    return path


def site(tmp_path: Path, env_file: str = "") -> Path:
    path = tmp_path / "site.yaml"
    env = f"env_files: [{env_file}]\n" if env_file else ""
    path.write_text(f"name: ok\n{env}hosts: {{app1: {{address: 192.0.2.1, roles: [app], "
                    f"ssh: false}}}}\n")
    return path


def check(run: Run, path: Path) -> None:
    assert run.code == 4, run.stderr[-2000:]
    assert f"{path}:" in run.stderr, run.stderr[-2000:]  # file[:line]: message
    assert "Traceback" not in run.stderr and "INTERNALERROR" not in run.stderr
    assert run.wall_s < WALL_S, "killed: it hung"
    assert run.cpu_s < CPU_S, f"{run.cpu_s:.1f} s of CPU"
    assert run.rss_mb < RSS_MB, f"{run.rss_mb:.0f} MB peak RSS"
    assert len(run.stderr) < 20_000  # a hostile file does not make a flood of problems


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_site_file(tmp_path: Path, kind: str) -> None:
    path = hostile(tmp_path, kind, "site.yaml")
    run = run_cli(tmp_path, "--site", str(path))
    check(run, path)
    assert not (tmp_path / "rs-preflight-report" / "results.json").exists()  # nothing ran


ENV_KINDS = ["20MB", "not-utf8", "directory", "fifo", "dev-zero"]  # a bomb is not YAML there


def test_hostile_env_files_all_in_one_run(tmp_path: Path) -> None:
    """Every problem is reported at once: one run, each hostile .env file located — the file
    (``.env.x:3: not UTF-8``) or, for what is never opened, the site's line naming it."""
    paths = [hostile(tmp_path, kind, f".env.{kind}") for kind in ENV_KINDS]
    listed = ", ".join(f'"{p}"' for p in paths)
    run = run_cli(tmp_path, "--site", str(site(tmp_path, listed)))
    check(run, paths[0])
    for i, path in enumerate(paths):
        assert f"{path}:" in run.stderr or f"env_files[{i}]: not a regular file" in run.stderr
        assert str(path) in run.stderr, run.stderr


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_waivers_file(tmp_path: Path, kind: str) -> None:
    path = hostile(tmp_path, kind, "waivers.yaml")
    run = run_cli(tmp_path, "--site", str(site(tmp_path)), "--waivers", str(path))
    check(run, path)


@pytest.mark.parametrize("kind", [k for k in HOSTILE if k != "alias-bomb"])  # JSON: no aliases
def test_hostile_baseline(tmp_path: Path, kind: str) -> None:
    path = hostile(tmp_path, kind, "baseline.json")
    run = run_cli(tmp_path, "--site", str(site(tmp_path)), "--baseline", str(path))
    check(run, path)


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_catalogue(tmp_path: Path, kind: str) -> None:
    path = hostile(tmp_path, kind, "catalogue.yaml")
    run = run_cli(tmp_path, "--site", str(site(tmp_path)), "--rs-catalogue", str(path))
    check(run, path)


def test_the_bounds_are_measured_per_child() -> None:
    """``os.wait4`` reports the child's own usage (not the maximum of every child so far, as
    ``RUSAGE_CHILDREN`` would after other tests' subprocesses)."""
    assert resource.RUSAGE_CHILDREN  # documented alternative, not used
    proc = subprocess.Popen([sys.executable, "-c", "x = bytearray(64 * 2**20)"])
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    assert 64 <= usage.ru_maxrss / 1024 < 200
