"""The site loader: valid sites, every kind of invalid one (exact message and line), .env
parsing, secret references and the Ansible inventory import."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rs_preflight.spec.envfile import parse_env_file
from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.site import default_site, load_site

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "small"


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SiteError) as info:
        load_site(path)
    return [str(p) for p in info.value.problems]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with the key files the example site names."""
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "id_ed25519").write_text("not a real key\n")
    (ssh / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_example_site_loads_with_env_files(home: Path) -> None:
    site = load_site(EXAMPLES / "site.yaml")
    assert site.name == "acme-prod" and site.profile == "small" and site.phase == "pre"
    assert [h.name for h in site.hosts_with("app")] == ["app1", "app2"]
    assert site.host("db1").connection == "none" and not site.host("db1").reachable
    assert site.host("job1").roles == ("job", "search")
    assert site.domain == "rs.example.com"
    # .env.job is read by job hosts only
    assert site.settings.get("CLACKS_PORT", role="job") == "993"
    assert site.settings.get("CLACKS_PORT", role="app") is None
    assert site.ssh.identity_file == home / ".ssh" / "id_ed25519"
    assert site.tls_ca_bundle == EXAMPLES / "corp-ca.pem"  # relative to the site's folder
    assert site.waivers[0].requirement == "RS-OS-02" and site.waivers[0].hosts == ("job1",)
    # every secret of the .env files is registered for redaction
    assert "example-imap-password" not in site.redactor("x example-imap-password y")


def test_medium_example_has_a_patroni_cluster_and_per_role_backends(home: Path) -> None:
    from rs_preflight.spec.catalogue import load_catalogue

    site = load_site(EXAMPLES.parent / "medium" / "site.yaml")
    pg05 = load_catalogue()["RS-PG-05"]
    assert site.profile == "medium" and site.profile in pg05.params["profiles"]
    assert len(site.hosts_with("db")) >= pg05.params["min_members"]   # Patroni members
    assert site.settings.get("DB_READER_HOST") == "db2"
    assert site.lb_backends == {"app": (80, False), "realtime": (443, True)}
    sizes = load_catalogue().profiles["medium"]
    for role, need in sizes.items():
        assert len(site.hosts_with(role)) >= need["count"], role


def test_phase_on_the_command_line_wins(home: Path) -> None:
    assert load_site(EXAMPLES / "site.yaml", phase="post").phase == "post"


def test_inventory_gives_hosts_and_roles(home: Path) -> None:
    site = load_site(EXAMPLES / "site-from-inventory.yaml")
    rt1 = site.host("rt1")
    assert (rt1.address, rt1.port, rt1.user, rt1.roles) == ("192.0.2.31", 2222, "ops",
                                                            ("realtime",))
    assert site.host("job1").roles == ("job", "search")


def test_every_problem_is_listed_with_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, """
        name: bad
        profile: huge
        colour: blue
        ssh:
          connect_timeout: fast
          sudo: yes-please
        hosts:
          app1: {address: 10.0.0.1, roles: [app, wizard]}
          app1: {address: 10.0.0.2, roles: [app]}
          job1: {roles: job}
          rt1: {address: 10.0.0.3}
        waivers:
          - {requirement: RS-FOO-99, reason: x, expires: 2027-01-01}
          - {requirement: RS-OS-02, reason: y, expires: not-a-date}
    """)
    f = str(path)
    assert problems(path) == [
        f"{f}:2: profile: 'huge' is not one of: pilot, small, medium, large",
        f"{f}:3: colour: unknown key (allowed: dns, domain, env_files, floating_addresses, "
        "hosts, inventory, load_balancer, name, phase, profile, settings, ssh, storage, time, "
        "tls, waivers)",
        f"{f}:5: ssh.connect_timeout: expected number, got str 'fast'",
        f"{f}:6: ssh.sudo: expected boolean, got str 'yes-please'",
        f"{f}:8: hosts.app1.roles[1]: 'wizard' is not one of: app, job, realtime, db, "
        "search, lb, deploy",
        f"{f}:9: hosts.app1: duplicate key (first defined on line 8)",
        f"{f}:10: hosts.job1.roles: expected array, got str 'job'",
        f"{f}:11: hosts.rt1: 'roles' is required",
        f"{f}:13: waivers[0].requirement: unknown requirement ID 'RS-FOO-99'",
        f"{f}:14: waivers[1].expires: 'not-a-date' is not a 'date'",
    ]


def test_schema_problems_do_not_hide_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, """
        name: bad
        profile: huge
        env_files: [nope.env]
        hosts:
          app1: {roles: [app]}
        waivers:
          - {requirement: RS-OS-02, hosts: [ghost], reason: r, expires: 2030-01-01}
    """)
    assert problems(path) == [
        f"{path}:2: profile: 'huge' is not one of: pilot, small, medium, large",
        f"{path}:3: env_files[0]: file not found: {tmp_path / 'nope.env'}",
        f"{path}:7: waivers[0].hosts[0]: no host named 'ghost' in the site",
    ]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nhosts:\n  app1: {roles: [app]\n  job1: {}\n")
    [message] = problems(path)
    assert message.startswith(f"{path}:4: <top>: YAML syntax:")


def test_missing_files_and_hosts_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, """
        name: x
        env_files: [nope.env]
        ssh: {identity_file: missing_key}
        hosts:
          app1: {roles: [app]}
        waivers:
          - {requirement: RS-OS-02, hosts: [ghost], reason: r, expires: 2030-01-01}
    """)
    assert problems(path) == [
        f"{path}:2: env_files[0]: file not found: {tmp_path / 'nope.env'}",
        f"{path}:3: ssh.identity_file: file not found: {tmp_path / 'missing_key'}",
        f"{path}:7: waivers[0].hosts[0]: no host named 'ghost' in the site",
    ]


def test_secrets_must_not_be_written_in_the_site_file(tmp_path: Path) -> None:
    path = write(tmp_path, """
        name: x
        hosts: {app1: {roles: [app]}}
        settings:
          DB_WRITER_PASSWORD: hunter2hunter2
    """)
    assert problems(path) == [
        f"{path}:4: settings.DB_WRITER_PASSWORD: a secret must not be written in the site "
        "file: use DB_WRITER_PASSWORD_env or DB_WRITER_PASSWORD_file"]


def test_secret_references_resolve_and_are_redacted(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RS_TEST_PG", "canary-pg-3141")
    (tmp_path / "imap.pw").write_text("canary-imap-2718\n")
    path = write(tmp_path, """
        name: x
        domain: rs.lab
        hosts: {app1: {roles: [app]}}
        settings:
          DB_WRITER_PASSWORD_env: RS_TEST_PG
          CLACKS_PASSWORD_file: imap.pw
          CLACKS_PORT: 993
          CLACKS_ENABLE_SSL: true
    """)
    site = load_site(path)
    assert site.settings.get("DB_WRITER_PASSWORD") == "canary-pg-3141"
    assert site.settings.get("CLACKS_PASSWORD") == "canary-imap-2718"
    assert site.settings.get("CLACKS_ENABLE_SSL") == "true"
    assert site.settings.get("ITRP_DOMAIN") == "rs.lab"
    assert site.redactor("a canary-pg-3141 b canary-imap-2718") == "a <redacted> b <redacted>"


def test_unset_secret_env_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, """
        name: x
        hosts: {app1: {roles: [app]}}
        settings: {DB_WRITER_PASSWORD_env: RS_TEST_SURELY_UNSET}
    """)
    assert problems(path) == [f"{path}:3: settings.DB_WRITER_PASSWORD_env: environment "
                              "variable RS_TEST_SURELY_UNSET is not set"]


def test_a_site_needs_hosts(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\n")
    assert problems(path) == [f"{path}:1: hosts: the site has no hosts "
                              "(give hosts: or inventory:)"]


def test_env_file_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, """
        # comment
        export A=1
        B="x # y"
        C=
        D=val # trailing comment
        E='$(touch /tmp/pwned); echo "quoted"'
        not a line
        F="multi
        line"
    """, ".env")
    values, probs = parse_env_file(path)
    assert {k: v.value for k, v in values.items()} == {
        "A": "1", "B": "x # y", "C": "", "D": "val",
        "E": '$(touch /tmp/pwned); echo "quoted"', "F": "multi\nline"}
    assert values["D"].origin == f"{path}:5"
    assert [str(p) for p in probs] == [f"{path}:7: <top>: not a NAME=value line"]


def test_default_site_is_this_machine() -> None:
    site = default_site()
    [host] = site.hosts
    assert host.connection == "local" and site.profile == "pilot"


def test_load_balancer_backends_per_role(tmp_path: Path) -> None:
    from rs_preflight.spec.backends import backend_for

    path = write(tmp_path, """
        name: s
        hosts: {app1: {roles: [app], connection: local}}
        load_balancer:
          backends: {app: {port: 80}, realtime: {port: 443, tls: true}}
    """)
    site = load_site(path)
    assert site.lb_backends == {"app": (80, False), "realtime": (443, True)}
    assert backend_for(site, "app").ports == (80,) and backend_for(site, "app").tls is False
    older = load_site(write(tmp_path, """
        name: s
        hosts: {app1: {roles: [app], connection: local}}
        load_balancer: {backend_port: 8080}
    """, "older.yaml"))
    assert backend_for(older, "realtime").ports == (8080,)
    assert backend_for(older, "realtime").tls is None           # found out
    bare = load_site(write(tmp_path, "name: s\nhosts: {a: {roles: [app], "
                                     "connection: local}}\n", "bare.yaml"))
    assert backend_for(bare, "app").ports == (443, 80) and not backend_for(bare, "app").declared
    bad = write(tmp_path, """
        name: s
        hosts: {app1: {roles: [app], connection: local}}
        load_balancer:
          backends: {job: {port: 80}, app: {tls: true}}
    """, "bad.yaml")
    found = problems(bad)
    assert any("load_balancer.backends.job: unknown key (allowed: app, realtime)" in p
               for p in found), found
    assert any("load_balancer.backends.app" in p and "port" in p for p in found), found


def test_a_host_names_the_dns_names_it_serves(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, """
        name: s
        hosts:
          proxy: {address: 192.0.2.9, roles: [app], names: [Dir.Example.COM, pg.example.com.]}
          other: {address: 192.0.2.10, roles: [app]}
        """))
    assert site.host("proxy").names == ("dir.example.com", "pg.example.com")
    assert site.host("other").names == ()


def test_a_served_name_must_be_a_dns_name(tmp_path: Path) -> None:
    path = write(tmp_path, """
        name: s
        hosts:
          proxy:
            address: 192.0.2.9
            roles: [app]
            names: [ok.example.com, 192.0.2.9, "https://x.example.com/"]
        """)
    assert problems(path) == [
        f"{path}:6: hosts.proxy.names[1]: '192.0.2.9' is not a DNS name",
        f"{path}:6: hosts.proxy.names[2]: 'https://x.example.com/' is not a DNS name"]
