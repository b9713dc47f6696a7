"""Split a ``profile_run.py`` profile into the parts the scale issue asks about, per host.

    python3 benchmarks/profile_split.py rs-preflight-100.pstats --hosts 100

Prints a Markdown table: each part's cumulative CPU (``time.thread_time`` in every thread, so
parts that run in the gathering threads are CPU, not waiting), per host and as a share of the
whole run. Parts can nest (the failure tracebacks are inside the run-test loop): the table says
which. Functions are matched by ``file suffix:function``, so the table survives line moves.
"""

from __future__ import annotations

import argparse
import pstats
from typing import Any

# (label, nested under, [(path suffix, function name), ...]); cumulative CPU of the outermost
# call of each is summed (pstats' cumtime already merges recursion).
PARTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("whole run: every thread's CPU", "", []),
    ("main thread (rs_preflight.cli.main)", "whole run", [("rs_preflight/cli.py", "main")]),
    ("pytest start-up: plugins, conftest, options", "whole run",
     [("_pytest/config/__init__.py", "_prepareconfig")]),
    ("pytest collection (checks imported, parametrized)", "whole run",
     [("_pytest/main.py", "perform_collect")]),
    ("assertion rewriting of imported modules", "start-up/collection",
     [("_pytest/assertion/rewrite.py", "_rewrite_test")]),
    ("catalogue loaded (YAML, kinds, params validated)", "start-up/collection",
     [("rs_preflight/spec/catalogue.py", "_load")]),
    ("pytest_generate_tests (parametrize per host)", "collection",
     [("rs_preflight/runner.py", "pytest_generate_tests")]),
    ("run-test loop: every item's setup/call/teardown/report", "whole run",
     [("_pytest/main.py", "pytest_runtestloop")]),
    ("failure tracebacks formatted, then replaced by the message", "run-test loop",
     [("_pytest/reports.py", "_format_failed_longrepr"),
      ("_pytest/reports.py", "_format_exception_only")]),
    ("the checks' own code (pytest_pyfunc_call: judge, evidence)", "run-test loop",
     [("rs_preflight/runner.py", "pytest_pyfunc_call")]),
    ("clock samples (5 round trips per host, main thread)", "checks' own code",
     [("rs_preflight/gather/state.py", "clock_offset")]),
    ("results recorded (_record: result, redaction)", "run-test loop",
     [("rs_preflight/runner.py", "_record"), ("rs_preflight/runner.py", "_redact")]),
    ("terminal reporter (progress, summary)", "run-test loop",
     [("_pytest/terminal.py", "pytest_runtest_logreport")]),
    ("gathering: connect + fact script + parse (pool threads)", "whole run",
     [("rs_preflight/gather/state.py", "one")]),
    ("  paramiko connect (TCP, kex, auth) in the pool", "gathering",
     [("paramiko/client.py", "connect")]),
    ("  fact parsers (split + section parsers)", "gathering",
     [("rs_preflight/gather/facts/__init__.py", "split_output")]
     + [(f"rs_preflight/gather/facts/{m}.py", "") for m in
        ("clock", "docker", "hardware", "network", "system")]),
    ("paramiko transport threads (packets, kex crypto, channels)", "whole run",
     [("paramiko/transport.py", "run")]),
    ("session finish: results doc + JSON/JUnit/HTML", "whole run",
     [("rs_preflight/runner.py", "pytest_sessionfinish")]),
    ("  write_reports (JSON, JUnit, HTML)", "session finish",
     [("rs_preflight/report/__init__.py", "write_reports")]),
    ("  HTML (Jinja2 compile + render)", "write_reports",
     [("rs_preflight/report/html.py", "render_html")]),
    ("  JUnit", "write_reports", [("rs_preflight/report/junit.py", "render_junit")]),
    ("  JSON", "write_reports", [("rs_preflight/report/__init__.py", "_json")]),
    ("hypothesis imported by its pytest plugin at the summary", "whole run",
     [("_hypothesis_pytestplugin.py", "pytest_terminal_summary")]),
]


def cumulative(stats: pstats.Stats, wanted: list[tuple[str, str]]) -> float:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = 0.0
    for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in raw.items():
        for suffix, name in wanted:
            if path.endswith(suffix) and (func == name or (not name and _toplevel(func))):
                total += ct
    return total


def _toplevel(func: str) -> bool:
    """A module's parser functions (``_os_release``...), not its import (``<module>``)."""
    return func.startswith("_") and not func.startswith("<")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pstats")
    ap.add_argument("--hosts", type=int, required=True)
    args = ap.parse_args()
    stats = pstats.Stats(args.pstats)
    whole: float = stats.total_tt or 1.0  # type: ignore[attr-defined]
    print("| part | inside | CPU | per host | share |")
    print("|---|---|---|---|---|")
    for label, parent, wanted in PARTS:
        cpu = cumulative(stats, wanted) if wanted else whole
        print(f"| {label} | {parent or '—'} | {cpu:.2f} s | {1000 * cpu / args.hosts:.1f} ms "
              f"| {100 * cpu / whole:.0f} % |")


if __name__ == "__main__":
    main()
