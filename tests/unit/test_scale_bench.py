"""benchmarks/scale.py's own arithmetic: option parsing, CPU of a process tree, the table.

No lab and no timing: the benchmark measures, this only checks it reads and reports right.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


scale = _load("scale")


def test_options_parse_and_refuse() -> None:
    args = scale.parser().parse_args(["--hosts", "100,19", "--unreachable", "10%",
                                      "--variant", "lean=--assert=plain --tb=no"])
    assert args.hosts == [19, 100]
    assert args.unreachable == pytest.approx(0.1)
    assert args.variant == [("rs-preflight lean", ["--assert=plain", "--tb=no"])]
    for bad in ("x", "0", "3000"):
        with pytest.raises(argparse.ArgumentTypeError):
            scale.sizes(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        scale.percent("80%")
    with pytest.raises(argparse.ArgumentTypeError):
        scale.variant("lean")


def test_process_tree_cpu_counts_this_process() -> None:
    assert scale.host_tree_cpu(os.getpid()) > 0
    assert scale.host_tree_cpu(2**22 + 7) == 0  # no such process: nothing, no error


def test_table_medians_and_ratios() -> None:
    def sample(way: str, wall: float, cpu: float, rnd: int) -> object:
        return scale.Sample(way, 10, rnd, wall, cpu, 1.0, 50.0, 0, "")

    samples = [sample("floor", w, 0.1, r) for r, w in enumerate((1.0, 2.0, 9.0))]
    samples += [sample("rs-preflight", w, 1.0, r) for r, w in enumerate((4.0, 6.0, 5.0))]
    samples += [sample("naive", 50.0, 2.0, 0)]
    text = scale.table(samples, [10], 3, "", [])
    assert "| 10 | floor | 2.00 s | 0.10 s | 10 ms | 1.00 s | 50 MB |" in text
    assert "| 10 | rs-preflight | 2.5× | 10.0× | 10.0× | 1.0× |" in text


def test_round_trips_and_the_busiest_worker(tmp_path: Path) -> None:
    report = tmp_path / "rs-preflight-report"
    report.mkdir()
    (report / "results.json").write_text(
        '{"hosts": {"a": {"round_trips": 6}, "b": {"round_trips": 0}, "c": {}}}')
    assert scale.round_trips(tmp_path) == 6
    assert scale.round_trips(tmp_path / "none") == 0
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert child.pid in scale.descendants(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert scale.own_cpu(os.getpid()) > 0 and scale.own_cpu(2**22 + 7) == 0
    samples = [scale.Sample("rs-preflight n2", 10, 0, 5.0, 4.0, 1.0, 50.0, 0, "", 12, 1.5),
               scale.Sample("rs-preflight", 10, 0, 6.0, 3.0, 1.0, 50.0, 0, "", 12, 0.0)]
    text = scale.table(samples, [10], 1, "", ["rs-preflight n2"])
    assert "| 10 | rs-preflight | 12 | 3.00 s | — | — |" in text
    assert "| 10 | rs-preflight n2 | 12 | 4.00 s | 1.50 s | 2.50 s |" in text
