"""The plugin end to end with pytester: outcomes, waivers, phases, gate, JSON, JUnit, secrets.

These runs use small check modules written here (returning fixed verdicts) so every outcome
is exercised deterministically; the shipped checks run against real hosts in tests/lab.
"""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

CHECKS = '''
import pytest
from rs_preflight.spec.results import passed, failed, error, skipped

@pytest.mark.kind("env_https")
def test_site_level_pass(rs):
    return passed("fine")

@pytest.mark.kind("os_supported")
def test_os(rs):
    if rs.host.name == "app1":
        return failed("Debian 12 is not supported", "Ubuntu >= 24.04", "Debian 12")
    return passed("Ubuntu 24.04 is supported")

@pytest.mark.kind("no_processes")
def test_warning_fails(rs):
    return failed("Xorg is running", "no display server", "Xorg")

@pytest.mark.kind("ports_free")
def test_pre_only(rs):
    return error("could not list listening sockets")

@pytest.mark.kind("singletons")
def test_post_only(rs):
    return passed("ran")

@pytest.mark.kind("nofile")
def test_no_realtime_host(rs):
    return passed("never runs")
'''

SITE = '''
name: plugin-test
profile: small
phase: pre
env_files: [.env]
hosts:
  app1: {connection: local, roles: [app]}
  job1: {connection: local, roles: [job]}
  db1: {address: 192.0.2.41, roles: [db], ssh: false}
waivers:
  - {requirement: RS-OS-02, hosts: [job1], reason: "agent required by policy",
     expires: 2999-12-31, by: sec-team}
  - {requirement: RS-OS-02, hosts: [app1], reason: "old waiver", expires: 2001-01-01}
'''

CANARY = "canary-Secr3t-0451-zz"
ENV = f"ITRP_SSL=true\nDB_WRITER_PASSWORD={CANARY}\n"


REQUIREMENTS = ("RS-ENV-03", "RS-OS-01", "RS-OS-02", "RS-PORT-02", "RS-SINGLETON-01",
                "RS-LIMIT-03")  # what CHECKS implement: a run of all of them is complete


Doc = dict[str, Any]
Run = Callable[..., tuple[pytest.RunResult, Doc, ET.Element]]  # run(*pytest_args)


@pytest.fixture
def run(pytester: pytest.Pytester, catalogue_of: Any) -> Run:
    pytester.makepyfile(test_checks=CHECKS)
    catalogue = catalogue_of(*REQUIREMENTS)
    pytester.makefile(".yaml", site=SITE)
    (pytester.path / ".env").write_text(ENV)

    def go(*args: str) -> tuple[pytest.RunResult, Doc, ET.Element]:
        result = pytester.runpytest("--rs-site", "site.yaml", "--rs-catalogue", str(catalogue),
                                    "--rs-json", "out/results.json", "--junitxml",
                                    "out/junit.xml", "-o", "junit_family=xunit1", "-rA", *args)
        doc = json.loads((pytester.path / "out/results.json").read_text())
        junit = ET.parse(pytester.path / "out/junit.xml").getroot()
        return result, doc, junit
    return go


def by_id(doc: Doc) -> dict[tuple[str, str | None], Doc]:
    return {(r["requirement"], r["host"]): r for r in doc["results"]}


def test_outcomes_and_json_records(run: Run) -> None:
    result, doc, _ = run()
    records = by_id(doc)
    assert records[("RS-ENV-03", None)]["outcome"] == "passed"
    os_app = records[("RS-OS-01", "app1")]
    assert os_app["outcome"] == "failed" and os_app["severity"] == "blocker"
    assert (os_app["expected"], os_app["found"]) == ("Ubuntu >= 24.04", "Debian 12")
    assert os_app["remediation"].startswith("Install Ubuntu 24.04")
    assert os_app["guide_section"] == "9.2" and os_app["roles"] == ["app"]
    assert records[("RS-OS-01", "job1")]["outcome"] == "passed"
    # a host checked over the network only is skipped, saying why
    db = records[("RS-OS-01", "db1")]
    assert db["outcome"] == "skipped" and "network only" in db["message"]
    # phase: RS-SINGLETON-01 is post-only
    single = records[("RS-SINGLETON-01", None)]
    assert single["outcome"] == "skipped" and "phase post only" in single["message"]
    # error = could not check
    port = records[("RS-PORT-02", "app1")]
    assert port["outcome"] == "error" and port["message"] == "could not list listening sockets"
    # no host of the role: one skipped record that says so
    rt = records[("RS-LIMIT-03", None)]
    assert rt["outcome"] == "skipped" and "no host with role realtime" in rt["message"]
    assert set(doc) >= {"site", "phase", "profile", "start", "end", "version", "results"}
    assert doc["site"] == "plugin-test" and doc["phase"] == "pre"
    for record in doc["results"]:
        assert set(record) >= {"id", "requirement", "host", "roles", "outcome", "severity",
                               "phase", "message", "expected", "found", "remediation",
                               "guide_section", "duration_s"}
    # pytest's counts are the gate's (report.counts): the warning is "warned", not "failed"
    assert result.parseoutcomes() == {"passed": 2, "failed": 1, "errors": 2, "warned": 1,
                                      "waived": 1, "n": 3}  # "3 n/a"
    assert result.ret == 1


def test_waivers_named_and_expiring(run: Run) -> None:
    _, doc, _ = run()
    records = by_id(doc)
    waived = records[("RS-OS-02", "job1")]
    assert waived["outcome"] == "waived"
    assert waived["waiver"] == "waived by sec-team until 2999-12-31: agent required by policy"
    expired = records[("RS-OS-02", "app1")]
    assert expired["outcome"] == "failed" and "waiver expired on 2001-01-01" in expired["message"]


def test_gate_exit_code_counts_blockers_only(run: Run) -> None:
    result, doc, _ = run()
    assert result.ret == 1 and doc["gate"] == "failed" and doc["complete"] is True
    # only the warning-severity check and passing ones: nothing fails the gate, but a run
    # narrowed by -k is incomplete — its exit code is the gate of what ran
    result, doc, _ = run("-k", "warning_fails or site_level_pass")
    assert doc["gate"] == "incomplete" and result.ret == 0 and doc["complete"] is False


def test_phase_option_wins(run: Run) -> None:
    _, doc, _ = run("--rs-phase", "post")
    records = by_id(doc)
    assert doc["phase"] == "post"
    assert records[("RS-SINGLETON-01", None)]["outcome"] == "passed"
    assert records[("RS-PORT-02", "app1")]["outcome"] == "skipped"


def test_junit_names_and_properties(run: Run) -> None:
    _, _, junit = run()
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    case = cases["test_os[RS-OS-01@app1]"]
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props == {"requirement": "RS-OS-01", "host": "app1", "severity": "blocker",
                     "guide_section": "9.2"}
    assert case.find("failure") is not None
    # could-not-check is an <error>, not a <failure>
    assert cases["test_pre_only[RS-PORT-02@app1]"].find("error") is not None


def test_markers_and_k_select_by_area(run: Run) -> None:
    _, doc, _ = run("-m", "rs_os")
    assert {r["requirement"] for r in doc["results"]} == {"RS-OS-01", "RS-OS-02"}
    _, doc, _ = run("-k", "RS-ENV-03")
    assert [r["requirement"] for r in doc["results"]] == ["RS-ENV-03"]


def test_canary_secret_never_leaves(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky='''
        import pytest
        from rs_preflight.spec.results import failed

        @pytest.mark.kind("env_secrets")
        def test_leak(rs):
            secret = rs.site.settings.get("DB_WRITER_PASSWORD")
            print("debug:", secret)
            return failed(f"found {secret}", "x", secret)
    ''')
    pytester.makefile(".yaml", site="name: t\nenv_files: [.env]\n"
                                    "hosts: {app1: {connection: local, roles: [app]}}\n")
    (pytester.path / ".env").write_text(ENV)
    result = pytester.runpytest("--rs-site", "site.yaml",
                                "--rs-json", "r.json", "--junitxml", "j.xml", "-rA")
    assert result.ret == 1
    outputs = {"terminal": result.stdout.str() + result.stderr.str(),
               "json": (pytester.path / "r.json").read_text(),
               "junit": (pytester.path / "j.xml").read_text()}
    for name, text in outputs.items():
        assert CANARY not in text, name
        assert "<redacted>" in text or "&lt;redacted&gt;" in text, name


def test_broken_site_stops_before_anything_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_checks=CHECKS)
    pytester.makefile(".yaml", site="name: t\nprofile: huge\nhosts: {a: {roles: [nope]}}\n")
    result = pytester.runpytest("--rs-site", "site.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[:3] == [
        "ERROR: invalid site description:",
        "site.yaml:2: profile: 'huge' is not one of: pilot, small, medium, large",
        "site.yaml:3: hosts.a.roles[0]: 'nope' is not one of: app, job, realtime, db, search, "
        "lb, deploy"]
    assert not (pytester.path / "out").exists()


def test_bad_phase_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--rs-phase", "during")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rs-phase must be one of pre, post, not 'during'*"])


def test_unknown_requirement_in_a_check_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=textwrap.dedent('''
        import pytest
        @pytest.mark.rs("RS-NOPE-01")
        def test_x(rs):
            pass
    '''))
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: invalid checks:",
                                 "test_x.py::test_x: unknown requirement ID(s) RS-NOPE-01 *"])


def test_unknown_kind_and_two_checks_for_one_kind_are_usage_errors(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=textwrap.dedent('''
        import pytest
        @pytest.mark.kind("sysctll")
        def test_typo(rs):
            pass

        @pytest.mark.kind("env_https")
        def test_one(rs):
            pass

        @pytest.mark.kind("env_https")
        def test_two(rs):
            pass
    '''))
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: invalid checks:",
        "test_x.py::test_typo: @pytest.mark.kind(NAME) takes one kind: unknown kind 'sysctll' "
        "(known: *, sysctl, * / did you mean 'sysctl'?)",
        "two checks for kind 'env_https': test_x.py::test_one and test_x.py::test_two (a kind "
        "has one check)"])


def test_the_deprecated_rs_marker_means_the_kind_of_that_shipped_requirement(
        pytester: pytest.Pytester, catalogue_of: Any) -> None:
    """``@pytest.mark.rs("RS-SYSCTL-01")`` (the old way) runs for every requirement of kind
    sysctl, as ``@pytest.mark.kind("sysctl")`` does."""
    pytester.makepyfile(test_x=textwrap.dedent('''
        import pytest
        from rs_preflight.spec.results import passed

        @pytest.mark.rs("RS-SYSCTL-01")
        def test_old(rs):
            return passed(rs.params["key"])
    '''))
    pytester.makefile(".yaml", site="name: t\nhosts:\n  rt1: {connection: local, roles: "
                                    "[realtime, search]}\n")
    result = pytester.runpytest("--rs-site", "site.yaml", "--rs-catalogue",
                                str(catalogue_of("RS-SYSCTL-01", "RS-SYSCTL-02")),
                                "--rs-json", "r.json")
    assert result.ret == 0, result.stdout.str()
    doc = json.loads((pytester.path / "r.json").read_text())
    assert {(r["requirement"], r["message"]) for r in doc["results"]} == {
        ("RS-SYSCTL-01", "fs.file-max"), ("RS-SYSCTL-02", "vm.max_map_count")}


def test_plugin_is_inert_for_ordinary_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "rs-preflight: site" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*test session starts*", "*1 passed*"])  # pytest's own
