"""Honest completeness end to end (issue 11, part 4): interrupted, narrowed and empty runs never
say "gate passed" — terminal, results.json, report.html, junit.xml — and reports are 0600.

The checks here are small modules with fixed verdicts against a catalogue cut to what they
implement (``catalogue_of``), so a run of all of them is complete; the interrupted runs are
real processes sent real signals.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from rs_preflight.report import exit_code, finalize, render_html, render_junit
from rs_preflight.spec.results import GatePolicy, Result

CHECKS = '''
import pathlib, time, pytest
from rs_preflight.spec.results import passed, failed

@pytest.mark.kind("env_https")
def test_first(rs):
    return passed("ITRP_SSL is true")

@pytest.mark.kind("no_processes")
def test_second(rs):
    if pathlib.Path("warn").exists():   # a warning fails: -x stops, the gate does not fail
        return failed("Xorg is running", "no display server", "Xorg")
    return passed("no third-party software")

@pytest.mark.kind("os_supported")
def test_third(rs):
    if pathlib.Path("block").exists():   # the interrupt tests: the signal arrives in here
        pathlib.Path("started").write_text(rs.host.name)
        try:
            time.sleep(120)
        except KeyboardInterrupt:  # swallowed, as in a weakref callback or a __del__
            if not pathlib.Path("swallow").exists():
                raise
    return passed("Ubuntu 24.04 is supported")
'''

SITE = '''
name: complete-test
hosts:
  app1: {connection: local, roles: [app]}
'''
REQUIREMENTS = ("RS-ENV-03", "RS-OS-01", "RS-OS-02")
DEFINED = ["RS-OS-01@app1", "RS-OS-02@app1", "RS-ENV-03"]
REPORTS = ("results.json", "report.html", "junit.xml")
INTERRUPT_BOUND_S = 30  # from the signal to the process's end (measured: about 1-3 s)
# "gate passed" in any form a report writes it: terminal, JSON, HTML, JUnit property (the
# page's stylesheet names a class gate-passed: a class, not a verdict)
GATE_PASSED = re.compile(r'gate[\s:"=>]{1,4}passed|name="gate" value="passed"', re.IGNORECASE)


@pytest.fixture
def folder(pytester: pytest.Pytester, catalogue_of: Any) -> Path:
    pytester.makepyfile(test_checks=CHECKS)
    pytester.makefile(".yaml", site=SITE)
    (pytester.path / "catalogue.yaml").write_bytes(catalogue_of(*REQUIREMENTS).read_bytes())
    return pytester.path


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rs-site", "site.yaml",
            "--rs-catalogue", "catalogue.yaml", "--rs-json", "out/results.json",
            "--rs-html", "out/report.html", "--rs-junit", "out/junit.xml", "-v", *args]


def run(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run(command(*args), cwd=folder, capture_output=True, text=True,
                          timeout=300)
    return proc, json.loads((folder / "out/results.json").read_text())


def outputs(folder: Path, terminal: str) -> dict[str, str]:
    return {"terminal": terminal, **{n: (folder / "out" / n).read_text() for n in REPORTS}}


def assert_never_says_passed(texts: dict[str, str]) -> None:
    for name, text in texts.items():
        hit = GATE_PASSED.search(text)
        assert hit is None, f"{name} says {hit.group(0)!r}" if hit else name


def assert_incomplete_everywhere(folder: Path, terminal: str) -> ET.Element:
    texts = outputs(folder, terminal)
    assert_never_says_passed(texts)
    assert "gate: INCOMPLETE" in terminal or "gate: FAILED" in terminal
    assert "INCOMPLETE:" in terminal  # the reasons, one line each
    assert 'id="incomplete"' in texts["report.html"]  # the banner, at the top
    assert texts["report.html"].index('id="incomplete"') < texts["report.html"].index("<header")
    junit = ET.fromstring(texts["junit.xml"].encode())
    first = junit.find("testsuite")
    assert first is not None and first.get("name") == "rs-preflight complete-test run"
    props = {p.get("name"): p.get("value") for p in first.iter("property")}
    assert props["complete"] == "false"
    for suite in junit.iter("testsuite"):  # every suite says it, not only the first
        assert {p.get("name"): p.get("value") for p in suite.iter("property")}[
            "complete"] == "false"
    return first


def interrupted_run(folder: Path, sig: signal.Signals, *args: str) -> tuple[int, str, float]:
    """Start the run, wait until RS-OS-01@app1 is running (after two checks finished), send
    ``sig``; (exit code, output, seconds from the signal to the end)."""
    (folder / "block").write_text("")
    proc = subprocess.Popen(  # SIGINT may be ignored in a background job: the child gets it
        command(*args), cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 90
        while not (folder / "started").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "never started"
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=INTERRUPT_BOUND_S)
        return proc.returncode, out, time.monotonic() - sent
    finally:
        if proc.poll() is None:  # only ours, by its PID
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_after_the_first_check_is_incomplete_everywhere(
        folder: Path, sig: signal.Signals) -> None:
    code, out, took = interrupted_run(folder, sig)
    assert code == 2, out
    assert took < INTERRUPT_BOUND_S
    doc = json.loads((folder / "out/results.json").read_text())
    assert doc["schema_version"] == 2
    assert (doc["complete"], doc["interrupted"], doc["interrupted_by"]) == (False, True,
                                                                          sig.name)
    assert doc["gate"] == "incomplete"
    records = {r["id"].split("[")[-1].rstrip("]"): r for r in doc["results"]}
    assert records["RS-ENV-03"]["outcome"] == "passed"  # these finished, and passed
    assert records["RS-OS-02@app1"]["outcome"] == "passed"
    running = records["RS-OS-01@app1"]
    assert running["outcome"] == "error" and running["message"].startswith("interrupted")
    assert doc["not_run"] == ["RS-OS-01@app1"]
    assert doc["selection"]["selected"] == 3 and doc["selection"]["finished"] == 2
    assert any(f"interrupted by {sig.name}" in r for r in doc["incomplete_reasons"])
    suite = assert_incomplete_everywhere(folder, out)
    marker = suite.find("testcase/error")
    assert marker is not None and marker.get("type") == "interrupted"
    assert "not run: RS-OS-01@app1" in (marker.text or "")

    # re-rendering the saved run keeps all of it (and its exit code)
    again = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "report",
                            "out/results.json", "-o", "again"], cwd=folder,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2, again.stderr
    assert "gate incomplete" in again.stdout
    html = (folder / "again/report.html").read_text()
    assert 'id="incomplete"' in html and f"interrupted by {sig.name}" in html
    assert_never_says_passed({"report": again.stdout, "html": html,
                              "junit": (folder / "again/junit.xml").read_text()})


def test_a_signal_whose_stop_was_swallowed_still_ends_the_run_interrupted(folder: Path) -> None:
    """Python drops an exception raised in a weakref callback or a ``__del__`` ("unraisable"):
    the SIGTERM's stop can vanish. The run still ends as stopped by it — exit 2, incomplete —
    and a check that would start after it never does (``Interrupts.check``)."""
    (folder / "swallow").write_text("")
    code, out, _ = interrupted_run(folder, signal.SIGTERM)
    assert code == 2, out
    doc = json.loads((folder / "out/results.json").read_text())
    assert (doc["complete"], doc["interrupted"], doc["interrupted_by"]) == (False, True,
                                                                          "SIGTERM")
    assert doc["gate"] == "incomplete"
    assert_incomplete_everywhere(folder, out)


def test_a_complete_run_says_passed(folder: Path) -> None:
    proc, doc = run(folder)
    assert proc.returncode == 0, proc.stdout
    assert (doc["complete"], doc["interrupted"], doc["gate"]) == (True, False, "passed")
    assert (doc["not_run"], doc["not_selected"], doc["incomplete_reasons"]) == ([], [], [])
    assert doc["selection"]["defined"] == 3 == doc["selection"]["finished"]
    assert "gate: passed" in proc.stdout
    junit = ET.parse(folder / "out/junit.xml").getroot()
    assert [s.get("name") for s in junit.iter("testsuite")] == [
        "rs-preflight complete-test app1", "rs-preflight complete-test site"]


@pytest.mark.parametrize("args", [("-k", "first or second"), ("-m", "rs_os"),
                                  ("--deselect", "test_checks.py::test_first[RS-ENV-03]"),
                                  ("test_checks.py::test_third",)])
def test_a_narrowed_run_is_incomplete_and_keeps_its_gate_exit_code(
        folder: Path, args: tuple[str, ...]) -> None:
    proc, doc = run(folder, *args)
    assert proc.returncode == 0, proc.stdout  # nothing that ran fails the gate
    assert doc["complete"] is False and doc["interrupted"] is False
    assert doc["gate"] == "incomplete" and doc["not_run"] == []
    assert doc["not_selected"] and set(doc["not_selected"]) < set(DEFINED)
    suite = assert_incomplete_everywhere(folder, proc.stdout)
    marker = suite.find("testcase/skipped")  # visible, not red: what ran is still judged
    assert marker is not None and marker.get("type") == "incomplete"
    said = " ".join(doc["incomplete_reasons"])
    if args[0] in ("-k", "-m", "--deselect"):
        assert f"deselected by {args[0]}" in said
        assert doc["selection"][{"-k": "keyword", "-m": "markexpr",
                                 "--deselect": "deselect"}[args[0]]]
    else:
        assert doc["selection"]["paths"] == ["test_checks.py::test_third"]
        assert "only test_checks.py::test_third given" in said


def test_a_requirement_no_check_implements_is_never_silently_dropped(folder: Path) -> None:
    """A catalogue entry (here added by a second --rs-catalogue) whose kind no collected
    check implements: the run says so and is incomplete, never "passed"."""
    (folder / "more.yaml").write_text(
        "requirements:\n  XT-ENV-01:\n    kind: env_required\n"
        "    params: {required: {all: [ITRP_DOMAIN]}}\n    title: Domain set\n"
        "    section: '1'\n    roles: [site]\n    phases: [pre, post]\n"
        "    severity: blocker\n")
    proc, doc = run(folder, "--rs-catalogue", "more.yaml")
    assert doc["complete"] is False and doc["gate"] == "incomplete", proc.stdout
    assert doc["not_selected"] == ["XT-ENV-01"]
    assert doc["incomplete_reasons"] == [
        "1 of 4 checks were not collected (no collected check implements them: kind "
        "env_required): XT-ENV-01"]
    assert doc["selection"]["catalogues"] == ["catalogue.yaml", "more.yaml"]
    assert_incomplete_everywhere(folder, proc.stdout)


def test_x_stopping_early_is_incomplete(folder: Path) -> None:
    (folder / "warn").write_text("")  # RS-OS-02 fails as a warning: -x stops after it
    proc, doc = run(folder, "-x")
    assert proc.returncode == 0, proc.stdout  # the gate of what ran: a warning does not fail
    assert doc["gate"] == "incomplete" and doc["selection"]["maxfail"] == 1
    assert doc["not_run"] == ["RS-OS-01@app1"] and doc["not_selected"] == []
    assert any("1 selected check(s) did not run" in r for r in doc["incomplete_reasons"])
    assert_incomplete_everywhere(folder, proc.stdout)
    proc, doc = run(folder, "-x", "--rs-strict")  # now the warning fails the gate
    assert proc.returncode == 1 and doc["gate"] == "failed" and doc["complete"] is False
    assert "gate: FAILED" in proc.stdout and "and the run is INCOMPLETE" in proc.stdout
    assert_never_says_passed(outputs(folder, proc.stdout))


def test_a_run_that_selects_nothing_overwrites_stale_reports(folder: Path) -> None:
    proc, doc = run(folder)
    assert doc["gate"] == "passed"
    proc, doc = run(folder, "-k", "nothing_matches_this")
    assert proc.returncode == pytest.ExitCode.NO_TESTS_COLLECTED
    assert doc["results"] == [] and doc["gate"] == "incomplete"
    assert "no check was selected" in doc["incomplete_reasons"]
    assert_incomplete_everywhere(folder, proc.stdout)


def test_reports_are_private_unless_asked(folder: Path) -> None:
    out = folder / "out"
    out.mkdir()
    (out / "junit.xml").write_text("old")
    (out / "junit.xml").chmod(0o644)  # an earlier run's file: made private too
    run(folder)
    assert {n: (out / n).stat().st_mode & 0o777 for n in REPORTS} == dict.fromkeys(REPORTS,
                                                                                  0o600)
    run(folder, "--rs-report-mode", "0644")
    assert {n: (out / n).stat().st_mode & 0o777 for n in REPORTS} == dict.fromkeys(REPORTS,
                                                                                  0o644)
    proc = subprocess.run(command("--rs-report-mode", "0777"), cwd=folder, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--rs-report-mode: a report mode is one of 0600, 0640, 0644" in proc.stderr
    fresh = folder / "fresh"
    subprocess.run(command("--rs-json", "fresh/r/results.json"), cwd=folder, timeout=300,
                   capture_output=True)
    assert (fresh / "r").stat().st_mode & 0o777 == 0o700
    assert (fresh / "r/results.json").stat().st_mode & 0o777 == 0o600


# --- the gate of a document, pure ----------------------------------------------------------
def doc_of(outcome: str, **fields: Any) -> dict[str, Any]:
    record = Result(id="x", requirement="RS-OS-01", host="app1", roles=["app"], outcome=outcome,
                    severity="blocker", phase="pre", message="m", title="t").to_dict()
    return {"site": "s", "phase": "pre", "profile": "small", "version": "0", "start": None,
            "end": None, "results": [record], **fields}


@pytest.mark.parametrize(("outcome", "fields", "gate", "code"), [
    ("passed", {}, "passed", 0),  # a document before schema 2: complete
    ("passed", {"complete": True}, "passed", 0),
    ("passed", {"complete": False}, "incomplete", 0),
    ("failed", {"complete": False}, "failed", 1),
    ("passed", {"complete": False, "interrupted": True}, "incomplete", 2),
    ("failed", {"complete": False, "interrupted": True}, "failed", 2),
])
def test_gate_and_exit_code(outcome: str, fields: dict[str, Any], gate: str, code: int) -> None:
    doc = finalize(doc_of(outcome, **fields), GatePolicy())
    assert (doc["gate"], exit_code(doc)) == (gate, code)
    if fields.get("complete") is False:
        assert_never_says_passed({"html": render_html(doc), "junit": render_junit(doc)})


def test_incomplete_junit_is_valid_against_the_schema() -> None:
    import xmlschema

    schema = xmlschema.XMLSchema(str(Path(__file__).parent / "data/junit-10.xsd"))
    for interrupted in (False, True):
        doc = finalize(doc_of("passed", complete=False, interrupted=interrupted,
                              incomplete_reasons=["r"], not_run=["RS-OS-02@app1"]),
                       GatePolicy())
        schema.validate(render_junit(doc))


def test_signal_handlers_are_restored(pytester: pytest.Pytester, catalogue_of: Any) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    pytester.makepyfile(test_checks=CHECKS)
    pytester.makefile(".yaml", site=SITE)
    pytester.runpytest("--rs-site", "site.yaml", "--rs-catalogue",
                       str(catalogue_of(*REQUIREMENTS)), "--rs-json", "r.json")
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert os.stat(pytester.path / "r.json").st_mode & 0o777 == 0o600
