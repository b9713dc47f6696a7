"""Issue 13's contract on a lab host, both ways: a catalogue file with one ``sysctl``
requirement is all it takes, and adding RS-SYSCTL-03 to the shipped catalogue is one entry.

``net.core.somaxconn`` belongs to the network namespace: the test sets it inside the lab host's
(``sysctl -w`` run there), 128 (fails) then 4096 (passes), and the product reads it over SSH.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.preflight import Run, run_preflight

pytestmark = pytest.mark.lab

DATA = Path(__file__).resolve().parents[1] / "data" / "catalogues"


@pytest.fixture(scope="module")
def tuned(host_lab: HostLab, lab_lease: Lease) -> LabHost:
    return host_lab.add(HostSpec("kinds1", lab_lease.take(), os_release("ubuntu", "24.04")))


def somaxconn(host: LabHost, value: int) -> None:
    """Set it in the host's network namespace, and read it back there."""
    host.run(f"sysctl -w net.core.somaxconn={value}", check=True)
    assert host.run("cat /proc/sys/net/core/somaxconn", check=True).stdout.strip() == str(value)


def site(folder: Path, lab: HostLab, host: LabHost, profile: str = "standard") -> Path:
    path = folder / "site.yaml"
    path.write_text(f"name: tuning\nprofile: {profile}\nssh:\n  user: root\n"
                    f"  identity_file: {lab.identity_file}\n  known_hosts: {lab.known_hosts}\n"
                    f"  connect_timeout: 3\nhosts:\n"
                    f"  {host.name}: {{address: {host.ipv4}, roles: [app]}}\n")
    return path


def one(run: Run, requirement: str, host: str) -> dict[str, Any]:
    records = [r for r in run.doc["results"] if r["requirement"] == requirement]
    assert [r["host"] for r in records] == [host], run.output[-3000:]
    record: dict[str, Any] = records[0]
    return record


def test_the_contract_both_ways(tuned: LabHost, host_lab: HostLab, tmp_path: Path) -> None:
    shutil.copy(DATA / "extra.yaml", tmp_path / "extra.yaml")
    site_file = site(tmp_path, host_lab, tuned)
    for value, outcome, code in ((128, "failed", 1), (4096, "passed", 0)):
        somaxconn(tuned, value)
        folder = tmp_path / str(value)
        folder.mkdir()
        run = run_preflight(site_file, "--rs-catalogue", str(tmp_path / "extra.yaml"),
                            cwd=folder)
        assert len(run.doc["results"]) == 1  # exactly one record: XT-SYSCTL-01 on the host
        record = one(run, "XT-SYSCTL-01", tuned.name)
        assert (record["outcome"], record["expected"], record["found"]) == (
            outcome, ">= 4096", str(value)), record
        assert run.code == code and run.doc["complete"] is True
        if outcome == "failed":
            assert record["remediation"].startswith("Set net.core.somaxconn = 4096")
    # the same file with a misspelt kind: exit 4 naming the line, nothing runs
    (tmp_path / "typo.yaml").write_text((DATA / "extra.yaml").read_text().replace(
        "kind: sysctl", "kind: sysctll"))
    folder = tmp_path / "typo"
    folder.mkdir()
    with pytest.raises(Exception, match="exit 4") as caught:
        run_preflight(site_file, "--rs-catalogue", str(tmp_path / "typo.yaml"), cwd=folder)
    assert f"{tmp_path / 'typo.yaml'}:7: requirements.XT-SYSCTL-01: unknown kind 'sysctll'" \
        in str(caught.value)


def test_rs_sysctl_03_is_one_catalogue_entry(tuned: LabHost, host_lab: HostLab,
                                             tmp_path: Path) -> None:
    """The shipped catalogue + a file with only RS-SYSCTL-03: the sysctl check runs it beside
    RS-SYSCTL-01/02 (no realtime or search host here: n/a), both ways."""
    site_file = site(tmp_path, host_lab, tuned, profile="small")
    extra = str(DATA / "rs-sysctl-03.yaml")
    for value, outcome in ((128, "failed"), (4096, "passed")):
        somaxconn(tuned, value)
        folder = tmp_path / str(value)
        folder.mkdir()
        run = run_preflight(site_file, "--rs-catalogue", "r-service", "--rs-catalogue", extra,
                            "-k", "RS-SYSCTL", cwd=folder)
        record = one(run, "RS-SYSCTL-03", tuned.name)
        assert (record["outcome"], record["found"]) == (outcome, str(value)), record
        assert record["severity"] == "blocker" and record["guide_section"] == "9.4"
        assert {r["requirement"] for r in run.doc["results"]} == {
            "RS-SYSCTL-01", "RS-SYSCTL-02", "RS-SYSCTL-03"}
        assert run.doc["selection"]["catalogues"] == ["r-service (shipped)", extra]
        assert run.doc["catalogue"] == "R-Service + R-Service listen backlog"
