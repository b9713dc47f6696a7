"""rs-preflight's terminal reporter and ``-n 2`` (pytest-xdist), end to end with pytester.

The checks here return fixed verdicts (as in test_plugin.py) so every line is predictable;
the lab's runs (tests/lab) print the same lines for real hosts.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECKS = '''
import pytest
from rs_preflight.spec.results import passed, failed, error

@pytest.mark.kind("env_https")
def test_site(rs):
    return passed("fine")

@pytest.mark.kind("os_supported")
def test_os(rs):
    return failed("Debian 12 is not supported", "Ubuntu >= 24.04", "Debian 12")

@pytest.mark.kind("no_processes")
def test_warning(rs):
    return failed("Xorg is running", "no display server", "Xorg")

@pytest.mark.kind("ports_free")
def test_port(rs):
    rs.state.progress("waiting for the port probe (up to 3 s)…")
    return error("could not list listening sockets")

@pytest.mark.kind("nofile")
def test_limit(rs):
    return failed("soft nofile limit 1024 is below 8192", ">= 8192", "1024")
'''

MORE = '''
import pytest
from pathlib import Path
from rs_preflight.spec.results import passed

pytestmark = pytest.mark.rs_one_worker("its active probe runs once per run")

@pytest.fixture(scope="module")
def probe():
    """An active probe: must run once per site, whatever the number of workers (with -n, a
    per-host check's module runs on one worker when marked rs_one_worker)."""
    with open(Path(__file__).parent / "probe.log", "a") as log:
        log.write("probe\\n")
    return "sent"

@pytest.mark.kind("profile_cpu")
def test_cpus(rs, probe):
    return passed(f"enough CPUs ({probe})")

@pytest.mark.kind("sysctl")
def test_sysctl(rs, probe):
    return passed("fs.file-max is high enough")
'''

SITE = '''
name: term-test
profile: small
phase: pre
hosts:
  app1: {connection: local, roles: [app]}
  app2: {connection: local, roles: [app]}
  job1: {connection: local, roles: [job]}
  db1: {address: 192.0.2.41, roles: [db], ssh: false}
'''

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# the requirements the checks above implement: a catalogue cut to them makes a run of all of
# them complete (completeness.py), so the gate can say passed or failed
REQUIREMENTS = ("RS-ENV-03", "RS-OS-01", "RS-OS-02", "RS-PORT-02", "RS-LIMIT-01", "RS-SIZE-01",
                "RS-SYSCTL-01")


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, catalogue_of: Any) -> Any:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # xdist workers import this checkout too
    pytester.makepyfile(test_checks=CHECKS, test_more=MORE)
    pytester.makefile(".yaml", site=SITE)
    (pytester.path / "catalogue.yaml").write_bytes(catalogue_of(*REQUIREMENTS).read_bytes())

    def go(*args: str, out: str = "out") -> tuple[pytest.RunResult, dict[str, Any]]:
        result = pytester.runpytest("--rs-site", "site.yaml", "--rs-catalogue", "catalogue.yaml",
                                    "--rs-json", f"{out}/results.json",
                                    "--rs-junit", f"{out}/junit.xml", "--rs-html",
                                    f"{out}/report.html", *args)
        path = pytester.path / out / "results.json"
        return result, json.loads(path.read_text()) if path.exists() else {}
    return go


def test_lines_say_requirement_host_and_verdict_without_paths(run: Any) -> None:
    result, _ = run()
    text = result.stdout.str()
    result.stdout.fnmatch_lines([
        "RS-ENV-03 HTTPS on *. passed",
        "RS-OS-01@app1 Supported operating system *. FAILED (blocker)",
        "RS-OS-01@db1 Supported operating system *. n/a",
        "RS-OS-02@app1 No third-party software on the VMs *. WARN",
        "  … waiting for the port probe (up to 3 s)…",  # what a slow check waits for
        "RS-PORT-02@app1 Ports free before install *. ERROR",
    ])
    # no pytest header, no file paths or node IDs, no pytest failure sections
    for noise in ("test session starts", "rootdir:", "test_checks.py", "::", "FAILURES",
                  "short test summary"):
        assert noise not in text, noise
    # identical results on several hosts: one entry naming them all
    result.stdout.fnmatch_lines(["FAILED (blocker)  RS-OS-01 Supported operating system "
                                 "· app1, app2, job1",
                                 "    Debian 12 is not supported"])
    assert text.count("RS-OS-01 Supported operating system ·") == 1
    # the last lines: pytest's counts (= the gate's), the verdict, the reports
    last = text.rstrip().splitlines()[-3:]
    assert re.search(r"=+ 3 failed, 3 errors, 6 warned, 4 passed, 4 n/a in [\d.]+s", last[0])
    assert last[1] == ("gate: FAILED — 6 result(s) fail the gate (blockers failed or could "
                       "not be checked)")
    assert last[2] == "reports: out/results.json  out/report.html  out/junit.xml"
    assert result.ret == 1


def test_counts_agree_in_terminal_json_junit_and_html(run: Any, pytester: pytest.Pytester
                                                      ) -> None:
    result, doc = run()
    terminal = {k: v for k, v in result.parseoutcomes().items() if k != "n"}
    assert doc["counts"] == {"passed": 4, "failed": 3, "error": 3, "warned": 6, "waived": 0,
                             "n/a": 4}
    assert terminal == {"passed": 4, "failed": 3, "errors": 3, "warned": 6}
    assert doc["counts"]["failed"] + doc["counts"]["error"] == doc["gate_failures"] == 6
    junit = ET.parse(pytester.path / "out/junit.xml").getroot()
    hosts = [s for s in junit.iter("testsuite") if "warnings" not in s.get("name", "")]
    assert sum(int(s.get("failures", "")) for s in hosts) == doc["counts"]["failed"]
    assert sum(int(s.get("errors", "")) for s in hosts) == doc["counts"]["error"]
    [warnings] = [s for s in junit.iter("testsuite") if "warnings" in s.get("name", "")]
    assert int(warnings.get("failures", "")) == doc["counts"]["warned"]
    html = (pytester.path / "out/report.html").read_text()
    shown = dict(re.findall(r'data-category="([a-z/]+)"><span class="tag [^"]+">(\d+)<', html))
    assert {k: int(v) for k, v in shown.items()} == doc["counts"]


def test_warnings_only_are_not_red_and_the_gate_passes(run: Any) -> None:
    result, _ = run("-k", "RS-OS-02 or RS-LIMIT", "--color=yes")
    last = result.stdout.lines[-3:]
    assert result.ret == 0
    assert "failed" not in ANSI.sub("", last[0]) and "6 warned" in ANSI.sub("", last[0])
    assert "\x1b[31m" not in last[0] and "\x1b[33m" in last[0]  # yellow, never red
    # -k narrowed the run: what ran passes the gate, but the run is incomplete — never "passed"
    assert ANSI.sub("", last[1]).startswith(
        "gate: INCOMPLETE — 13 of 20 checks were deselected by -k 'RS-OS-02 or RS-LIMIT'; 0 ")
    assert "\x1b[31m" not in last[1] and "\x1b[33m" in last[1]  # yellow, never red


def test_verbose_brings_pytests_header_and_node_ids_back(run: Any) -> None:
    result, _ = run("-v")
    result.stdout.fnmatch_lines(["*test session starts*",
                                 "test_checks.py::test_os?RS-OS-01@app1? FAILED (blocker)*",
                                 "gate: FAILED*"])


def test_quiet_shows_only_what_is_wrong(run: Any) -> None:
    result, _ = run("-q")
    text = result.stdout.str()
    assert "RS-OS-01@app1 Supported operating system" in text
    assert "RS-ENV-03 HTTPS on" not in text  # passed: counted, not listed


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A results document without what differs between two runs of the same checks."""
    out = {k: v for k, v in doc.items() if k not in ("start", "end")}
    out["results"] = sorted(({k: v for k, v in r.items() if k != "duration_s"}
                             for r in doc["results"]), key=lambda r: r["id"])
    # round trips stay: with -n each host is gathered by one worker only (its facts relayed
    # to a worker whose check reads another's host), so they add up to a serial run's
    out["hosts"] = {h: {k: v for k, v in info.items() if k != "gather_s"}
                    for h, info in doc["hosts"].items()}
    return out


def _junit(path: Path) -> list[tuple[str, str, str]]:
    root = ET.parse(path).getroot()
    return sorted((s.get("name") or "", c.get("name") or "",
                   ",".join(f"{e.tag}:{e.get('type')}" for e in c if e.tag != "system-out"))
                  for s in root.iter("testsuite") for c in s.iter("testcase"))


def test_xdist_reports_equal_a_serial_run(run: Any, pytester: pytest.Pytester) -> None:
    serial, one = run(out="serial")
    probes_serial = (pytester.path / "probe.log").read_text().count("probe")
    # pytest-benchmark warns that it is off under xdist (an error here: filterwarnings)
    parallel, two = run("-n", "2", "-p", "xdist", "-p", "no:benchmark", out="parallel")
    assert probes_serial == 1
    assert (pytester.path / "probe.log").read_text().count("probe") == 2  # once per run
    assert parallel.ret == serial.ret == 1  # the exit code is the gate
    assert _comparable(two) == _comparable(one)
    assert _junit(pytester.path / "parallel/junit.xml") == _junit(pytester.path /
                                                                   "serial/junit.xml")
    html = [re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|\d+\.\d+ s|"
                   r'(?<=<td class="num">)\d+(?=</td>)', "T",
                   (pytester.path / d / "report.html").read_text())
            for d in ("serial", "parallel")]
    assert html[0] == html[1]
    assert parallel.stdout.lines[-2].startswith("gate: FAILED")
    parallel.stdout.fnmatch_lines(["RS-OS-01@app1 Supported operating system *. FAILED "
                                   "(blocker)"])
