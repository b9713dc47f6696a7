"""The first checks over real SSH (testinfra + our paramiko backend) against namespace hosts.

One host passes every first check, one fails each for the right reason, one is powered off
and gives one clear error; host keys are verified against the lab's known_hosts, and an
unknown key is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.preflight import run_preflight


def specs(lease: Lease) -> list[HostSpec]:
    good = HostSpec("good31", lease.take(), os_release("ubuntu", "24.04"),
                    extra_files={"/etc/sysctl.d/99-rs.conf": "fs.file-max = 2097152\n"
                                                             "vm.max_map_count = 262144\n"},
                    sysctls={"fs.file-max": "2097152", "vm.max_map_count": "262144"},
                    nofile=(8192, 100000))
    bad = HostSpec("bad32", lease.take(), os_release("rhel", "8.10"),
                   sysctls={"fs.file-max": "65536", "vm.max_map_count": "65530"},
                   nofile=(1024, 4096))
    gone = HostSpec("gone33", lease.take(), os_release("ubuntu", "24.04"))
    return [good, bad, gone]


FIRST = ("RS-OS-01", "RS-SYSCTL-01", "RS-SYSCTL-02", "RS-LIMIT-01", "RS-LIMIT-02",
         "RS-LIMIT-03")


@pytest.fixture(scope="module")
def hosts(host_lab: HostLab, lab_lease: Lease) -> Iterator[dict[str, LabHost]]:
    up = {h.name: h for h in host_lab.add_many(specs(lab_lease))}
    up["gone33"].stop()
    yield up


def site_file(folder: Path, lab: HostLab, hosts: dict[str, LabHost], *,
              known_hosts: Path | None = None, policy: str = "strict") -> Path:
    lines = [
        "name: lab-first-checks", "profile: small", "phase: post",
        "ssh:", "  user: root", f"  identity_file: {lab.identity_file}",
        f"  known_hosts: {known_hosts or lab.known_hosts}", f"  host_key_policy: {policy}",
        "  connect_timeout: 2", "  command_timeout: 10", "hosts:",
    ]
    lines += [f"  {name}: {{address: {h.ipv4}, roles: [realtime, search]}}"
              for name, h in hosts.items()]
    path = folder / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(folder: Path, site: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_preflight(site, "-k", " or ".join(FIRST), *args, cwd=folder, timeout=120)
    return result.code, result.doc, result.output


def outcomes(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["requirement"], r["host"]): r for r in doc["results"]}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, host_lab: HostLab,
              hosts: dict[str, LabHost]) -> tuple[int, dict[str, Any], str]:
    folder = tmp_path_factory.mktemp("first")
    return run(folder, site_file(folder, host_lab, hosts))


@pytest.mark.parametrize("requirement", FIRST)
def test_healthy_host_passes(first_run: tuple[int, dict[str, Any], str], requirement: str) -> None:
    record = outcomes(first_run[1])[(requirement, "good31")]
    assert record["outcome"] == "passed", record


@pytest.mark.parametrize(("requirement", "found"), [
    ("RS-OS-01", "Red Hat Enterprise Linux 8.10"), ("RS-SYSCTL-01", "65536"),
    ("RS-SYSCTL-02", "65530"), ("RS-LIMIT-01", "1024"), ("RS-LIMIT-02", "4096"),
    ("RS-LIMIT-03", "4096")])
def test_broken_host_fails_for_the_right_reason(first_run: tuple[int, dict[str, Any], str],
                                                requirement: str, found: str) -> None:
    record = outcomes(first_run[1])[(requirement, "bad32")]
    assert record["outcome"] == "failed", record
    assert found in record["found"]
    assert record["severity"] == "blocker"  # phase post


def test_persistence_is_reported(first_run: tuple[int, dict[str, Any], str]) -> None:
    records = outcomes(first_run[1])
    assert "persisted as 2097152 in /etc/sysctl.d/99-rs.conf" in \
        records[("RS-SYSCTL-01", "good31")]["message"]
    assert "not persisted" in records[("RS-SYSCTL-01", "bad32")]["message"]


def test_stopped_host_is_one_clear_error(first_run: tuple[int, dict[str, Any], str],
                                         hosts: dict[str, LabHost]) -> None:
    code, doc, _ = first_run
    gone = [r for r in doc["results"] if r["host"] == "gone33"]
    assert {r["outcome"] for r in gone} == {"error"}
    assert len({r["message"] for r in gone}) == 1  # one cause, said once per check
    assert f"SSH connect to {hosts['gone33'].ipv4}:22" in gone[0]["message"]
    gone_host = doc["hosts"]["gone33"]
    assert gone_host["reachable"] is False and gone_host["error"] == gone[0]["message"]
    assert gone_host["address"] == hosts["gone33"].ipv4 and gone_host["round_trips"] == 0
    assert code == 1


def test_one_round_trip_per_host(first_run: tuple[int, dict[str, Any], str]) -> None:
    hosts = first_run[1]["hosts"]
    assert hosts["good31"]["round_trips"] == 1 and hosts["bad32"]["round_trips"] == 1


def test_unknown_host_key_is_refused(tmp_path: Path, host_lab: HostLab,
                                     hosts: dict[str, LabHost]) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    site = site_file(tmp_path, host_lab, {"good31": hosts["good31"]}, known_hosts=empty)
    code, doc, _ = run(tmp_path, site)
    records = [r for r in doc["results"] if r["host"] == "good31"]
    assert {r["outcome"] for r in records} == {"error"}
    assert "is not in" in records[0]["message"] and "refusing to connect" in \
        records[0]["message"]
    assert code == 1


def test_changed_host_key_is_refused_even_with_accept_new(
        tmp_path: Path, host_lab: HostLab, hosts: dict[str, LabHost]) -> None:
    # bad32's key recorded under good31's address: a changed key, never accepted
    lines = host_lab.known_hosts.read_text().splitlines()
    _, key_type, key = next(line.split() for line in lines
                                if hosts["bad32"].ipv4 in line.split()[0].split(","))
    forged = tmp_path / "known_hosts"
    forged.write_text(f"{hosts['good31'].ipv4} {key_type} {key}\n")
    site = site_file(tmp_path, host_lab, {"good31": hosts["good31"]}, known_hosts=forged,
                     policy="accept-new")
    _, doc, _ = run(tmp_path, site)
    record = next(r for r in doc["results"] if r["host"] == "good31")
    assert record["outcome"] == "error" and "CHANGED" in record["message"]


def test_accept_new_saves_the_key_and_a_strict_run_then_verifies_it(
        tmp_path: Path, host_lab: HostLab, hosts: dict[str, LabHost]) -> None:
    good = hosts["good31"]
    known = tmp_path / "ssh" / "known_hosts"  # missing: accept-new creates it, 0600
    first = tmp_path / "first"
    first.mkdir()
    site = site_file(first, host_lab, {"good31": good}, known_hosts=known, policy="accept-new")
    code, doc, output = run(first, site)
    assert {r["outcome"] for r in doc["results"]} == {"passed"}
    assert code == 0
    assert known.stat().st_mode & 0o777 == 0o600
    [line] = known.read_text().splitlines()
    lab_line = next(ln for ln in host_lab.known_hosts.read_text().splitlines()
                    if good.ipv4 in ln.split()[0].split(","))
    assert line.split()[0] == good.ipv4 and line.split()[1:] == lab_line.split()[1:3]
    # loud: a warning line in the terminal summary and in results.json, for the policy and
    # for the key it let through
    kinds = [w["kind"] for w in doc["warnings"]]
    assert kinds == ["host-key-policy", "host-key"], doc["warnings"]
    assert f"of {good.ipv4} without verification" in doc["warnings"][1]["message"]
    assert "WARNING host-key-policy: ssh.host_key_policy is accept-new" in output
    assert f"saved to {known}" in output

    # the next run, strict, verifies the saved key: it connects and passes
    strict = site_file(tmp_path, host_lab, {"good31": good}, known_hosts=known)
    code, doc, output = run(tmp_path, strict)
    assert {r["outcome"] for r in doc["results"]} == {"passed"}, doc["results"]
    assert code == 0 and doc["warnings"] == [] and "WARNING" not in output


def test_insecure_is_a_warning_in_every_run(tmp_path: Path, host_lab: HostLab,
                                            hosts: dict[str, LabHost]) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    site = site_file(tmp_path, host_lab, {"good31": hosts["good31"]}, known_hosts=empty,
                     policy="insecure")
    code, doc, output = run(tmp_path, site)
    assert {r["outcome"] for r in doc["results"]} == {"passed"} and code == 0
    assert [w["kind"] for w in doc["warnings"]] == ["host-key-policy", "host-key"]
    assert "WARNING host-key-policy: ssh.host_key_policy is insecure" in output
    assert empty.read_text() == ""  # insecure saves nothing


HOSTILE = "/tmp/x'; touch /tmp/pwned1; echo \"$(touch /tmp/pwned2)\" `touch /tmp/pwned3`"


def test_hostile_values_are_quoted_never_executed(tmp_path: Path, host_lab: HostLab,
                                                   hosts: dict[str, LabHost]) -> None:
    good = hosts["good31"]
    site = tmp_path / "site.yaml"
    site.write_text("\n".join([
        "name: hostile", "ssh:", "  user: root", f"  identity_file: {host_lab.identity_file}",
        f"  known_hosts: {host_lab.known_hosts}", "hosts:",
        f"  good31: {{address: {good.ipv4}, roles: [app]}}",
        "storage:", f"  path: {json.dumps(HOSTILE)}",
        "settings:", f"  DB_WRITER_HOST: {json.dumps('db; touch /tmp/pwned4')}",
        f"  ELASTICSEARCH_URLS: {json.dumps('http://$(touch /tmp/pwned5):9200')}",
    ]) + "\n")
    result = run_preflight(site, "-k", "RS-STORAGE or RS-PORT-01", cwd=tmp_path, timeout=120)
    records = {r["requirement"]: r for r in result.doc["results"]}
    assert records["RS-STORAGE-01"]["outcome"] == "failed", result.output
    assert "does not exist" in records["RS-STORAGE-01"]["message"]
    # the names do not resolve on the host: could not check (error), never "filtered"
    assert records["RS-PORT-01"]["outcome"] == "error", records["RS-PORT-01"]
    assert "did not resolve" in records["RS-PORT-01"]["message"]
    assert good.run("ls /tmp").stdout.split().count("pwned1") == 0
    assert not [f for f in good.run("ls /tmp").stdout.split() if f.startswith("pwned")]


def test_jump_host_reaches_a_host_behind_it(tmp_path: Path, host_lab: HostLab,
                                            hosts: dict[str, LabHost]) -> None:
    site = site_file(tmp_path, host_lab, {"bad32": hosts["bad32"]})
    site.write_text(site.read_text().replace(
        "  user: root\n", f"  user: root\n  jump_host: root@{hosts['good31'].ipv4}\n"))
    _, doc, _ = run(tmp_path, site)
    os_record = next(r for r in doc["results"] if r["requirement"] == "RS-OS-01")
    assert os_record["outcome"] == "failed" and "8.10" in os_record["found"]  # reached, judged


HANG = Path("/opt/rs-lab/test-bin/docker-that-hangs")


@pytest.fixture(scope="module")
def hanging(host_lab: HostLab, lab_lease: Lease) -> Iterator[LabHost]:
    """A host whose `docker` never answers (a script on the machine's /, the hosts' lower
    layer, linked as /usr/local/bin/docker)."""
    HANG.parent.mkdir(parents=True, exist_ok=True)
    HANG.write_text("#!/bin/sh\nexec sleep 300\n")
    HANG.chmod(0o755)
    try:
        [host] = host_lab.add_many([HostSpec("hang34", lab_lease.take(),
                                             os_release("ubuntu", "24.04"),
                                             symlinks={"/usr/local/bin/docker": str(HANG)})])
        yield host
    finally:
        HANG.unlink(missing_ok=True)


def test_a_hanging_command_costs_its_own_checks_only(tmp_path: Path, host_lab: HostLab,
                                                     hosts: dict[str, LabHost],
                                                     hanging: LabHost) -> None:
    site = site_file(tmp_path, host_lab, {"hang34": hanging, "good31": hosts["good31"]})
    site.write_text(site.read_text().replace("  command_timeout: 10", "  command_timeout: 3"))
    result = run_preflight(site, "-k", "RS-DOCKER or RS-OS-01 or RS-LIMIT-01", cwd=tmp_path)
    records = result.records
    for requirement in ("RS-DOCKER-01", "RS-DOCKER-02"):  # they ask the daemon: could not
        record = records[(requirement, "hang34")]
        assert record["outcome"] == "error", record
        assert "timed out after 1s on the host" in record["message"]
    # daemon.json is a file, not the daemon: judged (absent, so json-file never rotates)
    assert records[("RS-DOCKER-03", "hang34")]["outcome"] == "failed"
    # the host's other facts were gathered in the same round trip, and judged
    assert records[("RS-OS-01", "hang34")]["outcome"] == "passed"
    assert records[("RS-LIMIT-01", "good31")]["outcome"] == "passed"
    # timeout(1) ended the hanging command on the host: nothing is left running there
    assert "sleep 300" not in hanging.run("ps -eo args").stdout
