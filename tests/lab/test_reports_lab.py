"""Reports, gates, waivers and baselines end to end against the lab (issue 7): the healthy
small site, then the same site with vm.max_map_count too low on job1 (overlay
``max-map-count-low``, a slot of its own), read through every report a user gets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from rs_lab.preflight import Run, run_preflight
from rs_lab.scenario import LabSite, Scenario

SELECT = ("--phase", "post", "-k", "RS-OS or RS-SYSCTL")
BROKEN = ("RS-SYSCTL-02", "job1")


def report(run: Run, name: str) -> Path:
    return run.folder / "rs-preflight-report" / name


def folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def test_reports_gate_baseline_and_waivers(small_site: LabSite,
                                           lab_site: Callable[[Scenario], LabSite],
                                           tmp_path: Path) -> None:
    healthy = run_preflight(small_site.site_file, *SELECT, cwd=folder(tmp_path, "a"))
    assert healthy.code == 0 and healthy.doc["gate"] == "incomplete"  # -k: nothing failed
    assert healthy.doc["complete"] is False and healthy.doc["not_run"] == []
    assert {r["outcome"] for r in healthy.doc["results"]} == {"passed"}
    for name in ("results.json", "report.html", "junit.xml"):
        assert report(healthy, name).exists()

    broken_site = lab_site(Scenario.small().with_overlay("max-map-count-low"))
    baseline = str(report(healthy, "results.json"))
    broken = run_preflight(broken_site.site_file, *SELECT, "--baseline", baseline,
                           cwd=folder(tmp_path, "b"))
    record = broken.records[BROKEN]
    assert broken.code == 1 and record["outcome"] == "failed"
    assert record["baseline"] == "new" and "vm.max_map_count is 65530" in record["message"]
    assert record["evidence"].startswith("$ printf")  # what job1 said, in the report too
    # the HTML: one page, the failure with its fix, no external reference
    html = report(broken, "report.html").read_text()
    assert "RS-SYSCTL-02" in html and "job1" in html and record["remediation"][:40] in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    # the JUnit: the failing case is a <failure>, everything else passes
    suites = ET.parse(report(broken, "junit.xml")).getroot()
    failures = [case.get("name") for case in suites.iter("testcase")
                if case.find("failure") is not None]
    assert failures == ["RS-SYSCTL-02@job1: vm.max_map_count"]

    # only regressions fail the gate: against the broken run itself, nothing is new
    again = run_preflight(broken_site.site_file, *SELECT, "--baseline",
                          str(report(broken, "results.json")), "--fail-on", "new",
                          cwd=folder(tmp_path, "c"))
    assert again.code == 0 and again.records[BROKEN]["baseline"] == "still"

    # a named, expiring waiver accepts the failure; expired and unmatched ones are reported
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "- {requirement: RS-SYSCTL-02, hosts: [job1], reason: 'kernel change CHG-42 next "
        "week', expires: 2999-01-01, by: ops-team}\n"
        "- {requirement: RS-OS-01, reason: 'old exception', expires: 2001-01-01}\n"
        "- {requirement: RS-MAIL-04, reason: 'not selected in this run', expires: 2999-01-01}\n")
    waived = run_preflight(broken_site.site_file, *SELECT, "--waivers", str(waivers),
                           cwd=folder(tmp_path, "d"))
    assert waived.code == 0 and waived.records[BROKEN]["outcome"] == "waived"
    assert "ops-team" in waived.records[BROKEN]["waiver"]
    statuses = {w["requirement"]: w["status"] for w in waived.doc["waivers"]}
    assert statuses == {"RS-SYSCTL-02": "active", "RS-OS-01": "expired",
                        "RS-MAIL-04": "unmatched"}
    assert "waived" in report(waived, "report.html").read_text()
