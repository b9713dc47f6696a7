"""SSH the way admins configure it: an ``ssh_config`` alias (HostName, User, IdentityFile,
ProxyJump, UserKnownHostsFile) reaches a lab host whose sshd answers only its jump host, with
host keys still checked strictly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.preflight import run_preflight


@pytest.fixture(scope="module")
def pair(host_lab: HostLab, lab_lease: Lease) -> Iterator[tuple[LabHost, LabHost]]:
    jump, behind = host_lab.add_many([
        HostSpec("sshjump91", lab_lease.take(), os_release("ubuntu", "24.04")),
        HostSpec("sshbehind92", lab_lease.take(), os_release("rhel", "9.4"))])
    # behind's sshd answers the jump host only: reaching it proves the ProxyJump was taken
    behind.ns.run(["nft", "-f", "-"], input=(
        "table inet rsonlyjump {\n  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        f"    ip saddr != {jump.ipv4} tcp dport 22 drop\n"
        "    meta nfproto ipv6 tcp dport 22 drop\n  }\n}\n"))
    yield jump, behind


def write(folder: Path, lab: HostLab, jump: LabHost, behind: LabHost, *,
          proxy_jump: bool = True, known_hosts: Path | None = None) -> Path:
    common = f"  User root\n  IdentityFile {lab.identity_file}\n"
    (folder / "ssh_config").write_text(
        f"Host bastion\n  HostName {jump.ipv4}\n{common}\n"
        f"Host behind\n  HostName {behind.ipv4}\n{common}"
        f"  UserKnownHostsFile {known_hosts or lab.known_hosts}\n"
        + ("  ProxyJump bastion\n" if proxy_jump else ""))
    site = folder / "site.yaml"
    site.write_text("name: lab-ssh-config\nprofile: small\nphase: post\n"
                    "ssh: {config: ssh_config, connect_timeout: 2, command_timeout: 10}\n"
                    "hosts:\n  behind: {roles: [realtime]}   # the ssh_config alias\n")
    return site


def os_record(folder: Path, site: Path) -> dict[str, str]:
    run = run_preflight(site, "-k", "RS-OS-01", cwd=folder, timeout=120)
    return run["RS-OS-01"]


def test_an_ssh_config_alias_with_proxyjump_reaches_the_host(
        tmp_path: Path, host_lab: HostLab, pair: tuple[LabHost, LabHost]) -> None:
    record = os_record(tmp_path, write(tmp_path, host_lab, *pair))
    assert record["outcome"] == "passed", record
    assert "Red Hat Enterprise Linux 9.4" in (record["found"] or record["message"])


def test_without_the_proxyjump_the_host_is_not_reached(
        tmp_path: Path, host_lab: HostLab, pair: tuple[LabHost, LabHost]) -> None:
    record = os_record(tmp_path, write(tmp_path, host_lab, *pair, proxy_jump=False))
    assert record["outcome"] == "error", record
    assert f"SSH connect to {pair[1].ipv4}:22 timed out" in record["message"]


def test_host_keys_stay_strict_through_the_alias(
        tmp_path: Path, host_lab: HostLab, pair: tuple[LabHost, LabHost]) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    record = os_record(tmp_path, write(tmp_path, host_lab, *pair, known_hosts=empty))
    assert record["outcome"] == "error", record
    assert f"is not in {empty} (ssh_config): refusing to connect" in record["message"]
