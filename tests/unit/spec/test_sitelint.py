"""The site lint (``sitelint.py``): duplicate addresses and DNS names are errors at the line of
the offending key, names outside the site's domain are warnings carried by the site, floating
addresses are declared for their pair — each both ways, on real site files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.site import load_site
from rs_preflight.spec.sitelint import Lint, lint
from rs_preflight.spec.yamlsrc import load_yaml


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def refused(path: Path) -> SiteError:
    with pytest.raises(SiteError) as info:
        load_site(path)
    return info.value


def test_two_hosts_at_one_address_is_an_error_at_the_second_address_line(tmp_path: Path
                                                                         ) -> None:
    site = write(tmp_path, """
        name: dup
        hosts:
          fs1:
            address: "fd75:9fac:a7b1:92:6c::601"
            roles: [app]
          fs2:
            address: "FD75:9FAC:A7B1:0092:006C:0:0:0601"   # the same address, spelt otherwise
            roles: [app]
          web1:
            roles: [app]
            address: fd75:9fac:a7b1:92:6c::601
          v4a: {address: 192.0.2.7, roles: [app]}
          v4b: {address: "::ffff:192.0.2.7", roles: [app], ssh: false}
        """)
    assert [str(p) for p in refused(site).problems] == [
        f"{site}:7: hosts.fs2.address: FD75:9FAC:A7B1:0092:006C:0:0:0601 is also the address "
        "of host fs1 (line 4): one address, 3 hosts (fs1, fs2, web1); each host needs its "
        "own address",
        f"{site}:11: hosts.web1.address: fd75:9fac:a7b1:92:6c::601 is also the address of "
        "host fs1 (line 4): one address, 3 hosts (fs1, fs2, web1); each host needs its own "
        "address",
    ]
    assert [str(p) for p in refused(site).warnings] == [  # v4b is never logged in to
        f"{site}:13: hosts.v4b.address: ::ffff:192.0.2.7 is also the address of host v4a "
        "(line 12); nothing is logged in to there twice (ssh: false), but if they are one "
        "machine, one host with both roles says so"]


def test_one_server_named_twice_over_the_network_only_is_a_warning(tmp_path: Path) -> None:
    """A PostgreSQL server as db1 and by its TLS name, both ssh: false (the lab's data
    checks): nothing is gathered from either, so the run goes on and says it once."""
    site = load_site(write(tmp_path, """
        name: net
        hosts:
          pg18.rs.lab: {address: 10.213.0.31, roles: [db], ssh: false}
          db1: {address: 10.213.0.31, roles: [db], ssh: false}
        """))
    assert [(w.line, w.path) for w in site.warnings] == [(4, "hosts.db1.address")]


def test_one_address_on_different_ssh_ports_or_never_connected_to_is_fine(tmp_path: Path
                                                                          ) -> None:
    site = load_site(write(tmp_path, """
        name: nat
        hosts:
          app1: {address: gw.example.com, port: 2201, roles: [app]}
          app2: {address: GW.example.com., port: 2202, roles: [app]}
          here: {connection: local, address: 127.0.0.1, roles: [app]}
          box: {connection: docker, address: 127.0.0.1, roles: [app]}
          other: {address: 127.0.0.1, roles: [app]}
        """))
    assert [h.name for h in site.hosts] == ["app1", "app2", "here", "box", "other"]
    assert site.warnings == ()


def test_a_dns_name_twice_is_an_error_and_a_name_outside_the_domain_a_warning(
        tmp_path: Path) -> None:
    site = write(tmp_path, """
        name: names
        domain: rcsnet.ru
        hosts:
          couch2:
            address: fd75::902
            fqdn: couch2.db.rcsnet.ru1
            roles: [app]
          fs1: {address: fd75::601, fqdn: fs1.voip.rcsnet.ru, roles: [app]}
          fs2: {address: fd75::602, fqdn: FS1.voip.rcsnet.ru., roles: [app]}
        """)
    error = refused(site)
    assert [str(p) for p in error.problems] == [
        f"{site}:9: hosts.fs2.fqdn: FS1.voip.rcsnet.ru. is also the DNS name of host fs1 "
        "(line 8); a name belongs to one host or floating address"]
    assert [str(p) for p in error.warnings] == [
        f"{site}:6: hosts.couch2.fqdn: couch2.db.rcsnet.ru1 is outside the site's domain "
        "rcsnet.ru (host couch2)"]


def test_a_name_outside_the_domain_alone_loads_and_is_carried_as_a_warning(tmp_path: Path
                                                                           ) -> None:
    site = load_site(write(tmp_path, """
        name: zone
        domain: rcsnet.ru
        hosts:
          couch1: {address: fd75::901, fqdn: couch1.db.rcsnet.ru, roles: [app]}
          couch2: {address: fd75::902, fqdn: couch2.db.rcsnet.ru1, roles: [app]}
          other: {address: fd75::903, fqdn: xrcsnet.ru, roles: [app]}
        """))
    assert site.host("couch1").fqdn == "couch1.db.rcsnet.ru"
    assert [(w.line, w.path) for w in site.warnings] == [(5, "hosts.couch2.fqdn"),
                                                         (6, "hosts.other.fqdn")]


def test_without_a_domain_names_are_not_judged_against_one(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, """
        name: nodomain
        hosts:
          a: {address: 192.0.2.1, fqdn: a.example.org, roles: [app]}
        """))
    assert site.warnings == ()


def test_the_domain_of_an_r_service_site_comes_from_its_env_files(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ITRP_DOMAIN=rs.example.com\n")
    site = load_site(write(tmp_path, """
        name: rs
        env_files: [.env]
        hosts:
          app1: {address: 192.0.2.1, fqdn: app1.corp.example, roles: [app], ssh: false}
        """))
    assert [w.message for w in site.warnings] == [
        "app1.corp.example is outside the site's domain rs.example.com (host app1)"]


def test_floating_addresses_are_declared_for_their_pair(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, """
        name: float
        domain: rcsnet.ru
        hosts:
          couch1: {address: "fd75:9fac:a7b1:92:6c::901", roles: [app]}
          couch2: {address: "fd75:9fac:a7b1:92:6c::902", roles: [app]}
        floating_addresses:
          couch:
            address: "fd75:9fac:a7b1:92:6c::900"
            name: couch.db.rcsnet.ru
            hosts: [couch1, couch2]
        """))
    (couch,) = site.floating
    assert (couch.label, couch.address, couch.hosts, couch.name) == (
        "couch", "fd75:9fac:a7b1:92:6c::900", ("couch1", "couch2"), "couch.db.rcsnet.ru")
    assert couch.source.endswith("site.yaml:7") and site.warnings == ()


def test_a_floating_address_that_is_a_hosts_own_or_declared_twice_is_an_error(
        tmp_path: Path) -> None:
    site = write(tmp_path, """
        name: float
        domain: rcsnet.ru
        hosts:
          fs1: {address: "fd75::601", fqdn: fs1.rcsnet.ru, roles: [app]}
          fs2: {address: "fd75::602", roles: [app]}
        floating_addresses:
          pbx:
            address: "fd75::0601"
            name: fs1.rcsnet.ru
            hosts: [fs1, fs2]
          web:
            address: "fd75:0::601"
            name: self.example.org
            hosts: [fs1, nginx9]
          one: {address: 192.0.2.9, hosts: [fs1]}
          bad: {address: pbx.rcsnet.ru, hosts: [fs1, fs2]}
        """)
    error = refused(site)
    assert [str(p) for p in error.problems] == [
        f"{site}:8: floating_addresses.pbx.address: fd75::0601 is host fs1's own address "
        "(line 4); a floating address moves between the hosts of its pair and must be none "
        "of theirs",
        f"{site}:9: floating_addresses.pbx.name: fs1.rcsnet.ru is also the DNS name of host "
        "fs1 (line 4); a name belongs to one host or floating address",
        f"{site}:12: floating_addresses.web.address: fd75:0::601 is host fs1's own address "
        "(line 4); a floating address moves between the hosts of its pair and must be none "
        "of theirs",
        f"{site}:12: floating_addresses.web.address: fd75:0::601 is also the floating "
        "address pbx (line 8)",
        f"{site}:14: floating_addresses.web.hosts[1]: no host named 'nginx9' in the site",
        f"{site}:15: floating_addresses.one.hosts: ['fs1'] is too short",
        f"{site}:16: floating_addresses.bad.address: 'pbx.rcsnet.ru' is not an IP address",
    ]
    assert [str(p) for p in error.warnings] == [
        f"{site}:13: floating_addresses.web.name: self.example.org is outside the site's "
        "domain rcsnet.ru (floating address web)"]


def test_hostile_values_never_break_the_lint(tmp_path: Path) -> None:
    site = write(tmp_path, """
        name: hostile
        domain: [not, a, string]
        ssh: {port: [22]}
        hosts:
          a: {address: [1, 2], fqdn: {x: 1}, port: {p: 1}, roles: [app]}
          b: {address: "a; touch x", fqdn: "bad name!", roles: [app]}
          c: not-a-mapping
        floating_addresses:
          f: {address: [1], name: 7, hosts: x}
          g: [1, 2]
        """)
    problems = [str(p) for p in refused(site).problems]  # located problems, no traceback
    assert f"{site}:2: domain: expected string, got list ['not', 'a', 'string']" in problems
    doc = load_yaml(site.read_text(), "site.yaml")
    assert lint(doc, domain="rcsnet.ru", ssh_port=[22]) == Lint()  # nothing it can judge
