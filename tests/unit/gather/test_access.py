"""accept-new saves what it accepts (``access.save_host_key``); weakened policies are warnings.

The lab test (``tests/lab/test_first_checks.py``) does the same against a real sshd; these pin
the file handling: created 0600 in a 0700 folder, appended (lines paramiko cannot parse stay),
never twice."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from rs_preflight.gather.access import _AcceptNewPolicy, key_policy_warnings, save_host_key
from rs_preflight.spec.site import Host, Site, SshSettings


@pytest.fixture(scope="module")
def key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate()


def test_a_missing_file_is_created_private(tmp_path: Path, key: paramiko.PKey) -> None:
    path = tmp_path / "ssh" / "known_hosts"
    assert save_host_key(path, "[10.0.0.5]:2222", key) is True
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    loaded = paramiko.HostKeys(str(path))
    assert loaded.check("[10.0.0.5]:2222", key)
    assert save_host_key(path, "[10.0.0.5]:2222", key) is False  # known: not added twice
    assert len(path.read_text().splitlines()) == 1


def test_other_entries_stay_as_they_were(tmp_path: Path, key: paramiko.PKey) -> None:
    path = tmp_path / "known_hosts"
    ca = paramiko.ECDSAKey.generate()
    before = (f"@cert-authority *.example.com {ca.get_name()} {ca.get_base64()}\n"
              "10.0.0.9 ssh-ed25519 not-base64!\n")  # a broken line: kept, not fatal
    path.write_text(before)
    path.chmod(0o644)
    save_host_key(path, "10.0.0.6", key)
    text = path.read_text()
    assert text.startswith(before) and text.count("\n") == 3
    assert path.stat().st_mode & 0o777 == 0o644  # the owner's existing file keeps its mode


def test_the_policy_accepts_saves_and_tells(tmp_path: Path, key: paramiko.PKey) -> None:
    heard: list[str] = []
    path = tmp_path / "known_hosts"
    client = paramiko.SSHClient()
    _AcceptNewPolicy(path, heard.append).missing_host_key(client, "10.0.0.7", key)
    assert client.get_host_keys().lookup("10.0.0.7") is not None
    assert paramiko.HostKeys(str(path)).lookup("10.0.0.7") is not None
    [message] = heard
    assert "10.0.0.7" in message and key.fingerprint in message and f"saved to {path}" in message


@pytest.mark.parametrize(("policy", "kinds"), [
    ("strict", []), ("accept-new", ["host-key-policy", "host-key"]),
    ("insecure", ["host-key-policy", "host-key"])])
def test_weakened_policies_are_warnings(policy: str, kinds: list[str]) -> None:
    app1 = Host(name="app1", address="192.0.2.1", roles=("app",))
    site = Site(name="s", file=None, hosts=(app1,), ssh=SshSettings(host_key_policy=policy))
    warnings = key_policy_warnings(site, ["accepted the new host key … of 192.0.2.1"])
    assert [w["kind"] for w in warnings] == kinds
    if warnings:
        assert policy in warnings[0]["message"]
