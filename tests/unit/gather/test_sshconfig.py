"""Where a host is reached: the site's keys, then ssh_config (paramiko.SSHConfig), then the
defaults; ProxyJump hops; ProxyCommand refused; the inventory's ssh variables."""

from __future__ import annotations

import textwrap
from pathlib import Path

import paramiko
import pytest

from rs_preflight.gather.sshconfig import Hop, load_config, route
from rs_preflight.spec.errors import HostUnreachable
from rs_preflight.spec.inventory import load_inventory, ssh_jump
from rs_preflight.spec.site import Host, SshSettings, load_site

CONFIG = paramiko.SSHConfig.from_text(textwrap.dedent("""\
    Host bastion
      HostName 198.51.100.7
      User jumper
      Port 2200
      IdentityFile /keys/jump
    Host app1
      HostName 10.0.0.11
      User admin
      Port 2222
      IdentityFile /keys/app
      ProxyJump bastion
      UserKnownHostsFile /kh/one /kh/two
    Host legacy
      ProxyCommand nc -X connect -x proxy:3128 %h %p
    Host chain
      ProxyJump ops@bastion:2201,[2001:db8::1]:22
    """))


def host(name: str, **kw: object) -> Host:
    return Host(name=name, address=str(kw.pop("address", name)), roles=("app",), **kw)  # type: ignore[arg-type]


def test_an_alias_gives_hostname_user_port_key_and_jump() -> None:
    r = route(host("app1"), SshSettings(), CONFIG)
    assert r.target == Hop("10.0.0.11", 2222, "admin", ("/keys/app",))
    assert r.jumps == (Hop("198.51.100.7", 2200, "jumper", ("/keys/jump",)),)
    assert r.known_hosts == (Path("/kh/one"), Path("/kh/two"))


def test_the_site_wins_over_ssh_config() -> None:
    ssh = SshSettings(user="siteuser", port=22, identity_file=Path("/site/key"))
    r = route(host("app1", port=2022), ssh, CONFIG)
    assert r.target == Hop("10.0.0.11", 2022, "siteuser", ("/site/key",))
    direct = route(host("app1", jump_host="none"), SshSettings(), CONFIG)
    assert direct.jumps == ()  # the host's own jump_host (none) wins over ProxyJump


def test_without_config_or_entry_the_defaults() -> None:
    assert route(host("x", address="192.0.2.5"), SshSettings(), None).target == Hop(
        "192.0.2.5", 22, None, ())
    assert route(host("x", address="192.0.2.5"), SshSettings(), CONFIG).jumps == ()


def test_proxyjump_chains_and_literal_addresses() -> None:
    r = route(host("chain"), SshSettings(), CONFIG)
    assert [(h.address, h.port, h.user) for h in r.jumps] == [
        ("198.51.100.7", 2201, "ops"), ("2001:db8::1", 22, None)]


def test_proxycommand_is_an_error_naming_it() -> None:
    with pytest.raises(HostUnreachable, match=r"ProxyCommand.*use ProxyJump"):
        route(host("legacy"), SshSettings(), CONFIG)
    assert route(host("legacy"), SshSettings(jump_host="bastion"), CONFIG).jumps  # a way round


def test_config_file_default_and_site_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_config(None) is None  # no ~/.ssh/config: nothing to read
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host a\n  HostName 10.1.1.1\n")
    config = load_config(None)
    assert config is not None and config.lookup("a")["hostname"] == "10.1.1.1"
    own = tmp_path / "own_config"
    own.write_text("Host a\n  HostName 10.2.2.2\n")
    (tmp_path / "site.yaml").write_text(
        "name: s\nssh: {config: own_config}\nhosts: {a: {roles: [app]}}\n")
    site = load_site(tmp_path / "site.yaml")
    assert site.ssh.config == own
    assert route(site.hosts[0], site.ssh, load_config(site.ssh.config)).target.address == \
        "10.2.2.2"


def test_a_missing_ssh_config_file_is_a_site_problem(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "name: s\nssh: {config: nowhere}\nhosts: {a: {roles: [app]}}\n")
    with pytest.raises(Exception, match=r"site.yaml:2: ssh.config: file not found"):
        load_site(tmp_path / "site.yaml")


@pytest.mark.parametrize(("args", "jump"), [
    ("-J ops@bastion:2222", "ops@bastion:2222"), ("-Jbastion", "bastion"),
    ("-o ProxyJump=a,b", "a,b"), ("-oProxyJump=bastion", "bastion"),
    ("-o 'ProxyJump bastion'", "bastion"), ("-o StrictHostKeyChecking=no", None), ("", None),
])
def test_ssh_jump_from_ansible_args(args: str, jump: str | None) -> None:
    assert ssh_jump(args) == (jump, None)


def test_ansible_proxycommand_is_out_of_scope() -> None:
    jump, why = ssh_jump("-o ProxyCommand='ssh -W %h:%p bastion'")
    assert jump is None and why is not None and "use -J / ProxyJump" in why


def test_inventory_ssh_variables(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text(textwrap.dedent("""\
        [app]
        app1 ansible_host=192.0.2.11 ansible_ssh_private_key_file=keys/app1
        app2 ansible_ssh_host=192.0.2.12 ansible_ssh_user=old ansible_ssh_port=2200
        [job]
        job1 ansible_host=192.0.2.21 ansible_ssh_common_args='-o ConnectTimeout=3 -J ops@jump'
        job2 ansible_host=192.0.2.22 ansible_ssh_common_args='-o ProxyCommand="nc %h %p"'
        """))
    hosts, problems = load_inventory(inv, ("app", "job"))
    by = {h.name: h for h in hosts}
    assert by["app1"].identity_file == tmp_path / "keys" / "app1"
    assert (by["app2"].address, by["app2"].user, by["app2"].port) == ("192.0.2.12", "old", 2200)
    assert by["job1"].jump_host == "ops@jump"
    assert "job2" not in by
    assert [(p.path, "ProxyCommand is not supported" in p.message) for p in problems] == [
        ("inventory.job2", True)]
