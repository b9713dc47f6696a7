"""The run's known_hosts store: parsed once, each client gets only its host's keys (no lab)."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from rs_preflight.gather.knownhosts import KnownHosts


def _line(name: str, key: paramiko.PKey) -> str:
    return f"{name} {key.get_name()} {key.get_base64()}"


@pytest.fixture(scope="module")
def keys() -> list[paramiko.PKey]:
    return [paramiko.ECDSAKey.generate() for _ in range(3)]


def test_plain_hashed_and_port_names(tmp_path: Path, keys: list[paramiko.PKey]) -> None:
    hashed = paramiko.HostKeys.hash_host("10.0.0.2")
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(["# comment", "garbage line", _line("10.0.0.1,h1", keys[0]),
                               _line(hashed, keys[1]), _line("[10.0.0.3]:2222", keys[2])]))
    known = KnownHosts()
    assert known.keys([path], "10.0.0.1") == {keys[0].get_name(): keys[0]}
    assert known.keys([path], "h1") == {keys[0].get_name(): keys[0]}
    assert known.keys([path], "10.0.0.2") == {keys[1].get_name(): keys[1]}
    assert known.keys([path], "[10.0.0.3]:2222") == {keys[2].get_name(): keys[2]}
    assert known.keys([path], "10.0.0.3") == {}  # another port is another name
    assert known.keys([path], "10.0.0.9") == {}  # unknown: nothing, so strict refuses


def test_parsed_once_and_first_entry_wins(tmp_path: Path, keys: list[paramiko.PKey]) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(_line("h", keys[0]) + "\n" + _line("h", keys[1]) + "\n")
    known = KnownHosts()
    assert known.keys([path], "h") == {keys[0].get_name(): keys[0]}  # as HostKeys.lookup
    path.write_text(_line("h", keys[2]) + "\n")  # not read again during the run
    assert known.keys([path], "h") == {keys[0].get_name(): keys[0]}


def test_client_gets_only_its_host_and_added_keys(tmp_path: Path,
                                                  keys: list[paramiko.PKey]) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(_line("a", keys[0]) + "\n" + _line("b", keys[1]) + "\n")
    known = KnownHosts()
    client = paramiko.SSHClient()
    known.install(client, [path], "a")
    assert list(client.get_host_keys().keys()) == ["a"]
    known.add("c", keys[2])  # accept-new during the run
    assert known.keys([path, tmp_path / "missing"], "c") == {keys[2].get_name(): keys[2]}
    assert known.added == [("c", keys[2])]
