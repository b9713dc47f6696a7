"""Input hardening: capped regular-file reads, bounded YAML, load-time address validation —
each requirement both ways (accepted, and refused with ``file:line: key.path: message``)."""

from __future__ import annotations

import os
import shlex
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from rs_preflight.report.baseline import BaselineError, load_baseline
from rs_preflight.spec.addresses import parse_jump_host, why_not_address, why_not_ip
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.envfile import parse_env_file
from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.inputs import LIMITS, InputError, read_text
from rs_preflight.spec.site import load_site
from rs_preflight.spec.yamlsrc import MAX_DEPTH, MAX_VALUES, load_yaml


def problems(path: Path) -> list[str]:
    with pytest.raises(SiteError) as info:
        load_site(path)
    return [str(p) for p in info.value.problems]


def site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# --- reading files ---------------------------------------------------------------------------

def test_a_regular_file_within_its_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_bytes(b"\xef\xbb\xbfA=caf\xc3\xa9\n")  # a byte-order mark is dropped
    assert read_text(path, "env") == "A=café\n"


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.mkdir(), "not a regular file: a directory"),
    (lambda p: os.mkfifo(p), "not a regular file: a FIFO (named pipe)"),
    (lambda p: p.write_bytes(b"x" * (LIMITS["env"] + 1)), "too large"),
    (lambda p: None, "cannot read: No such file or directory"),
])
def test_what_is_not_a_usable_file_is_refused_before_reading(
        tmp_path: Path, make: Callable[[Path], object], message: str) -> None:
    path = tmp_path / "input"
    make(path)
    with pytest.raises(InputError) as info:
        read_text(path, "env")
    assert str(info.value.problem).startswith(f"{path}: {message}")


def test_dev_zero_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="/dev/zero: not a regular file: a character device"):
        read_text(Path("/dev/zero"), "site")


def test_bytes_that_are_not_utf8_are_located(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_bytes(b"A=1\nB=caf\xe9\n")
    values, found = parse_env_file(path)
    assert values == {} and [str(p) for p in found] == [
        f"{path}:2: <top>: not UTF-8 text: byte 0xe9 at column 6"]


# --- YAML ------------------------------------------------------------------------------------

def test_aliases_and_merge_keys_within_the_bound_load() -> None:
    doc = load_yaml("base: &b {roles: [app]}\nh1: {<<: *b, address: x}\nh2: *b\n", "s.yaml")
    assert not doc.problems
    assert doc.data["h1"] == {"roles": ["app"], "address": "x"} and doc.data["h2"] == {
        "roles": ["app"]}


def test_an_alias_bomb_is_refused_at_its_line() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    doc = load_yaml("\n".join(lines), "bomb.yaml")
    [problem] = doc.problems
    assert problem.line == 5 and problem.path == "a4"  # 9**5 > 20 000 values
    assert "too many aliases" in problem.message and str(MAX_VALUES) in problem.message


def test_a_self_referencing_alias_is_refused() -> None:
    [problem] = load_yaml("a: &a [1, *a]\n", "s.yaml").problems
    assert str(problem) == "s.yaml:1: a[1]: an alias refers to the value that contains it"


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, 20_000])
def test_nesting_is_bounded(depth: int) -> None:
    doc = load_yaml("a: " + "[" * depth + "]" * depth, "s.yaml")
    if depth < MAX_DEPTH:  # with the mapping around it: MAX_DEPTH levels
        assert not doc.problems
    else:
        assert [p.message for p in doc.problems] == [
            f"nested too deeply (more than {MAX_DEPTH} levels)"]


@pytest.mark.parametrize(("text", "message"), [
    ("? [a]\n: 1\n", "a key must be a plain value, not a list or a mapping"),
    ("a: !!int\n", "invalid value ''"),
    ("a: 1\nb: \x00\n", "YAML: character U+0000 is not allowed"),
])
def test_odd_yaml_is_a_problem_not_a_traceback(text: str, message: str) -> None:
    [problem] = load_yaml(text, "s.yaml").problems
    assert message in problem.message


def test_many_values_are_refused_before_building() -> None:
    doc = load_yaml("a: [" + "1, " * (MAX_VALUES + 1) + "]", "s.yaml")
    assert [p.message for p in doc.problems] == [f"too many values (more than {MAX_VALUES})"]


# --- validation at load time -----------------------------------------------------------------

GOOD = """
    name: ok
    ssh: {jump_host: "ops@[2001:db8::1]:2222", host_key_policy: insecure}
    hosts:
      app1: {address: 192.0.2.1, roles: [app]}
      app2: {address: app2.example.com, roles: [app]}
      app3: {address: "2001:db8::3", roles: [app], port: 2222}
    load_balancer: {addresses: [192.0.2.10, lb.example.com]}
    dns: {resolvers: [192.0.2.53, "2001:db8::53"]}
    storage: {path: /mnt/share}
"""


def test_valid_addresses_resolvers_ports_and_jump_host_load(tmp_path: Path) -> None:
    loaded = load_site(site(tmp_path, GOOD))
    assert loaded.ssh.jump_host == "ops@[2001:db8::1]:2222"
    assert loaded.dns_resolvers == ("192.0.2.53", "2001:db8::53")
    assert loaded.host("app3").port == 2222


def test_bad_addresses_resolvers_ports_and_jump_host_are_located(tmp_path: Path) -> None:
    path = site(tmp_path, """
        name: bad
        ssh: {jump_host: "ops@jump:99999", host_key_policy: insecure, port: 0}
        hosts:
          app1: {address: "db; touch /tmp/x", roles: [app]}
          app2: {address: 192.0.2.2, roles: [app], port: 65536}
        load_balancer: {addresses: ["lb$(id)"]}
        dns: {resolvers: ["192.0.2.53'", ns.example.com]}
        storage: {path: relative/share}
    """)
    found = problems(path)
    assert f"{path}:2: ssh.jump_host: expected [user@]host[:port]: 'ops@jump:99999': " \
           "'99999' is not a port (1..65535)" in found
    assert any(p.startswith(f"{path}:2: ssh.port: 0 is less than the minimum") for p in found)
    assert f"{path}:4: hosts.app1.address: 'db; touch /tmp/x' is neither an IP address nor " \
           "a DNS name" in found
    assert any(p.startswith(f"{path}:5: hosts.app2.port: 65536 is greater") for p in found)
    assert f"{path}:6: load_balancer.addresses[0]: 'lb$(id)' is neither an IP address nor " \
           "a DNS name" in found
    assert f"{path}:7: dns.resolvers[0]: \"192.0.2.53'\" is not an IP address" in found
    assert f"{path}:7: dns.resolvers[1]: 'ns.example.com' is not an IP address" in found
    assert f"{path}:8: storage.path: 'relative/share' is not an absolute path" in found


@pytest.mark.parametrize(("value", "expected"), [
    ("jump", ("", "jump", 22)), ("ops@10.0.0.1:2200", ("ops", "10.0.0.1", 2200)),
    ("fd00::1", ("", "fd00::1", 22)), ("[fd00::1]:23", ("", "fd00::1", 23))])
def test_jump_host_forms(value: str, expected: tuple[str, str, int]) -> None:
    assert parse_jump_host(value) == expected


@pytest.mark.parametrize("value", ["jump:", "jump:x", "jump:0", "@jump", "a b@jump",
                                   "[fd00::1]x", "jump;id", "ops@jump:22:33"])
def test_bad_jump_hosts(value: str) -> None:
    with pytest.raises(ValueError):
        parse_jump_host(value)


def test_address_syntax() -> None:
    assert why_not_address("a-b.example.com.") is None and why_not_address("fd00::1%eth0") is None
    assert why_not_address("999.1.1.1") and why_not_address("-a.example") and \
        why_not_address("a" * 64 + ".example")
    assert why_not_ip("192.0.2.1") is None and why_not_ip("a.example")


def test_missing_known_hosts_is_a_problem_with_the_default_strict_policy(tmp_path: Path
                                                                         ) -> None:
    path = site(tmp_path, """
        name: kh
        ssh: {known_hosts: nope/known_hosts, identity_file: nope/id_ed25519}
        hosts: {app1: {address: 192.0.2.1, roles: [app]}}
    """)
    assert problems(path) == [
        f"{path}:2: ssh.identity_file: file not found: {tmp_path}/nope/id_ed25519",
        f"{path}:2: ssh.known_hosts: file not found: {tmp_path}/nope/known_hosts"]
    path.write_text(path.read_text().replace("ssh: {", "ssh: {host_key_policy: accept-new, ")
                    .replace(", identity_file: nope/id_ed25519", ""))
    assert load_site(path).ssh.host_key_policy == "accept-new"  # it may be created


def test_a_fifo_as_a_secret_file_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pass")
    path = site(tmp_path, """
        name: s
        ssh: {password_file: pass, host_key_policy: insecure}
        hosts: {app1: {address: 192.0.2.1, roles: [app]}}
    """)
    assert problems(path) == [f"{path}:2: ssh.password_file: not a regular file: "
                              f"a FIFO (named pipe): {tmp_path}/pass"]


def test_an_infinite_timeout_is_refused(tmp_path: Path) -> None:
    path = site(tmp_path, """
        name: t
        ssh: {connect_timeout: .inf, host_key_policy: insecure}
        hosts: {app1: {address: 192.0.2.1, roles: [app]}}
    """)
    assert [p for p in problems(path) if "ssh.connect_timeout" in p]


def test_a_broken_catalogue_is_located(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    path.write_text("product: X\nroles: [app]\nrequirements:\n  X-1: {title: t}\n")
    with pytest.raises(SiteError) as info:
        load_catalogue(path)
    lines = str(info.value).splitlines()
    assert all(line.startswith(f"{path}:4: requirements.X-1: ") for line in lines), lines
    assert f"{path}:4: requirements.X-1: 'section' is required" in lines
    assert any("no kind: say which check verifies it" in line for line in lines)


def test_a_baseline_that_is_not_utf8_or_too_deep_is_located(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(b'{"results": []}\n\xff')
    with pytest.raises(BaselineError, match=rf"^{path}:2: <top>: not UTF-8 text"):
        load_baseline(path)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BaselineError, match="nested too deeply"):
        load_baseline(path)
    path.write_text('{"results": [{"requirement": ["RS-OS-01"], "outcome": "failed"}]}')
    with pytest.raises(BaselineError, match=r"not an rs-preflight results\.json"):
        load_baseline(path)


# --- hostile values are quoted, never executed -----------------------------------------------

HOSTILE = "x'; touch PWNED1; echo \"$(touch PWNED2)\" `touch PWNED3` $HOME ; rm -rf ."


def test_fact_snippets_quote_hostile_values(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """RS-PORT-01's flow probes, RS-STORAGE-01's share facts and the sysctl keys a catalogue
    names, with hostile values, run by a real ``sh`` here in a network namespace of its own
    (``unshare -n``: the odd name is never sent to a resolver): each value reaches its
    command as one word and nothing else runs."""
    from rs_preflight.gather.facts import network, system
    from rs_preflight.spec.matrix import Flow

    monkeypatch.setattr(network, "flows_for", lambda *args: [
        Flow("hostile", "app1", HOSTILE, 1, "test")])
    ctx = SimpleNamespace(needs={"flow_tables": ({"flows": [], "timeout_s": 3},),
                                 "sysctl_keys": (HOSTILE,)}, host=None,
                          site=SimpleNamespace(phase="pre", storage_path=HOSTILE))
    for script in (network._flows_command(ctx), network._storage_command(ctx),  # type: ignore[arg-type]
                   system._sysctl_command(ctx)):  # type: ignore[arg-type]
        assert HOSTILE not in script  # only ever quoted
        proc = subprocess.run(["unshare", "-n", "sh", "-c", script], cwd=tmp_path,
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode != 127, proc.stderr
        assert not list(tmp_path.iterdir()), proc.stdout + proc.stderr


def test_share_probe_quotes_a_hostile_path(tmp_path: Path) -> None:
    """The shared-folder probe's commands through testinfra's quoting on a local host."""
    import testinfra

    from rs_preflight.gather.share import ShareProbe
    from rs_preflight.spec.site import Host

    share = tmp_path / HOSTILE.replace("/", "_")
    share.mkdir()
    thost = testinfra.get_host("local://")
    probe = ShareProbe(str(share))
    written = probe.write(Host("h", "127.0.0.1", ("app",), "local"), thost)
    assert probe.read(thost) == written.content
    probe.cleanup()
    assert sorted(p.name for p in tmp_path.iterdir()) == [share.name]
    assert not list(share.iterdir())
    assert shlex.quote(str(share)) != str(share)  # the value needed quoting
