"""The VoIP catalogue's host and name kinds against real lab hosts and a real BIND, both ways
(issue 14, seeds/001): ``os_end_of_life`` (VOIP-OS-02), ``dns_forward_reverse`` (VOIP-DNS-01),
``floating_address`` (VOIP-FLOAT-01) and ``dns_floating_names`` (VOIP-FLOAT-02).

Three lab hosts stand for servers of the complex, each with its own ``/etc/os-release``: CentOS
Linux 7 (past its end of life), RHEL 9.4 (supported until 2032) and Ubuntu 24.04 (no date in the
catalogue's list). BIND serves ``voip.lab`` and the reverse zones (AAAA, A and PTR records in
ip6.arpa / in-addr.arpa): right records, a name with neither AAAA nor PTR, a PTR naming another
host, a floating name pointing at a server's own address and one missing. The floating
addresses are lab addresses nobody else uses (leased), added inside a pair host's network
namespace with ``ip addr add`` (as keepalived does) — on one host, on none, on both; and a pair
host that does not exist at its address (unreachable). The product runs as a user runs it, with
``examples/catalogues/voip.yaml`` unchanged, phase post.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from rs_lab.dns import DnsServer, ZoneSpec
from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.netns import addr4, addr6
from rs_lab.preflight import Run, run_preflight

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "examples" / "catalogues" / "voip.yaml"
DOMAIN = "voip.lab"
SELECTED = "VOIP-OS-02 or VOIP-DNS-01 or VOIP-FLOAT"
ROLES = {"vn-couch1": "db", "vn-couch2": "db", "vn-kazoo1": "app"}
FQDN = {"vn-couch1": f"couch1.{DOMAIN}", "vn-couch2": f"couch2.{DOMAIN}",
        "vn-kazoo1": f"kazoo1.{DOMAIN}"}


@pytest.fixture(scope="module")
def hosts(host_lab: HostLab, lab_lease: Lease) -> dict[str, LabHost]:
    specs = [HostSpec("vn-couch1", lab_lease.take(), os_release("centos", "7")),
             HostSpec("vn-couch2", lab_lease.take(), os_release("rhel", "9.4")),
             HostSpec("vn-kazoo1", lab_lease.take(), os_release("ubuntu", "24.04"))]
    return {h.name: h for h in host_lab.add_many(specs)}


@pytest.fixture(scope="module")
def floating(lab_lease: Lease) -> dict[str, str]:
    """The floating addresses: lab addresses of leased indices no namespace uses, and the
    address of a pair host that is not there (``gone``)."""
    return {"couch": addr6(lab_lease.take()), "pbx": addr4(lab_lease.take()),
            "self": addr6(lab_lease.take()), "gone": addr6(lab_lease.take())}


def zone(hosts: dict[str, LabHost], floating: dict[str, str], *, broken: bool) -> ZoneSpec:
    """``voip.lab`` and its reverse zones; ``broken``: couch2 has neither AAAA nor PTR,
    kazoo1's PTR names kazoo2, pbx points at couch1's own address and self is missing."""
    names = {FQDN[n]: h.ipv6 for n, h in hosts.items()}
    ptr = {h.ipv6: FQDN[n] for n, h in hosts.items()}
    names.update({f"couch.{DOMAIN}": floating["couch"], f"pbx.{DOMAIN}": floating["pbx"],
                  f"self.{DOMAIN}": floating["self"]})
    if broken:
        del names[FQDN["vn-couch2"]], ptr[hosts["vn-couch2"].ipv6], names[f"self.{DOMAIN}"]
        ptr[hosts["vn-kazoo1"].ipv6] = f"kazoo2.{DOMAIN}"
        names[f"pbx.{DOMAIN}"] = hosts["vn-couch1"].ipv4
    return ZoneSpec(DOMAIN, overrides={"*": None, "@": None}, spf=None, mx_names=(),
                    hosts=names, ptr=ptr)


@pytest.fixture(scope="module")
def dns(hosts: dict[str, LabHost], floating: dict[str, str], lab_lease: Lease,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsServer]:
    server = DnsServer(lab_lease.take(), tmp_path_factory.mktemp("voip-dns"),
                       zone(hosts, floating, broken=True))
    with server:
        yield server


def _prefix(address: str) -> str:
    return f"{address}/{64 if ipaddress.ip_address(address).version == 6 else 32}"


@pytest.fixture
def hold(hosts: dict[str, LabHost], floating: dict[str, str]) -> Iterator[
        dict[str, list[str]]]:
    """``hold[label] = [host, …]`` after the test's call to ``place``: the floating addresses
    are added inside those hosts' namespaces, and removed from every host after the test."""
    held: dict[str, list[str]] = {}
    yield held
    for label, names in held.items():
        for name in names:
            hosts[name].run(f"ip addr del {_prefix(floating[label])} dev eth0", check=False)


def place(hosts: dict[str, LabHost], floating: dict[str, str], held: dict[str, list[str]],
          **where: list[str]) -> None:
    """Add each floating address on the named hosts (IPv6 with nodad: held at once, as
    keepalived's are) and check the host sees it."""
    for label, names in where.items():
        address = floating[label]
        nodad = " nodad" if ipaddress.ip_address(address).version == 6 else ""
        for name in names:
            held.setdefault(label, []).append(name)
            hosts[name].run(f"ip addr add {_prefix(address)} dev eth0{nodad}", check=True)
            assert address in hosts[name].run("ip -o addr show dev eth0", check=True).stdout


def run(folder: Path, lab: HostLab, hosts: dict[str, LabHost], dns: DnsServer,
        floating: dict[str, str], pairs: dict[str, list[str]] | None = None) -> Run:
    """rs-preflight with the VoIP catalogue, its name and floating-address requirements."""
    pairs = pairs or {"couch": ["vn-couch1", "vn-couch2"], "pbx": ["vn-kazoo1", "vn-couch1"],
                      "self": ["vn-couch2", "vn-kazoo1"]}
    lines = ["name: voip-lab", "profile: standard", "phase: post", f"domain: {DOMAIN}",
             "ssh:", "  user: root", f"  identity_file: {lab.identity_file}",
             f"  known_hosts: {lab.known_hosts}", "  connect_timeout: 3",
             f"dns: {{resolvers: ['{dns.ipv6}']}}", "hosts:"]
    lines += [f"  {n}: {{address: '{h.ipv6}', fqdn: {FQDN[n]}, roles: [{ROLES[n]}]}}"
              for n, h in hosts.items()]
    if any("vn-gone" in p for p in pairs.values()):  # no namespace at this address
        lines.append(f"  vn-gone: {{address: '{floating['gone']}', roles: [db]}}")
    lines.append("floating_addresses:")
    lines += [f"  {label}: {{address: '{floating[label]}', name: {label}.{DOMAIN}, "
              f"hosts: [{', '.join(names)}]}}" for label, names in pairs.items()]
    folder.mkdir(parents=True, exist_ok=True)
    site = folder / "site.yaml"
    site.write_text("\n".join(lines) + "\n")
    return run_preflight(site, "--rs-catalogue", str(CATALOGUE), "-k", SELECTED, cwd=folder)


def test_names_both_ways_end_of_life_and_one_holder_each(
        hosts: dict[str, LabHost], floating: dict[str, str], dns: DnsServer,
        host_lab: HostLab, hold: dict[str, list[str]], tmp_path: Path) -> None:
    dns.reload(zone(hosts, floating, broken=True))
    place(hosts, floating, hold, couch=["vn-couch1"], pbx=["vn-kazoo1"], self=["vn-couch2"])
    got = run(tmp_path, host_lab, hosts, dns, floating)
    rec = got.records
    c1, c2, k1 = (hosts[n].ipv6 for n in ("vn-couch1", "vn-couch2", "vn-kazoo1"))

    # VOIP-OS-02: past its end of life (failed, since when), before it (passed, until when),
    # not in the catalogue's list (skipped, saying so)
    eol = rec[("VOIP-OS-02", "vn-couch1")]
    assert eol["outcome"] == "failed", eol
    assert eol["message"].startswith("CentOS Linux 7 reached its end of life on 2024-06-30 (")
    assert eol["message"].endswith(" days ago): no security updates")
    assert eol["expected"] == "a release before its end of life (CentOS Linux 7: 2024-06-30)"
    assert eol["found"].startswith("CentOS Linux 7 (Core) (ID=centos, VERSION_ID=7), today ")
    assert eol["severity"] == "warning"
    ok = rec[("VOIP-OS-02", "vn-couch2")]
    assert ok["outcome"] == "passed" and ok["message"].startswith(
        "Red Hat Enterprise Linux 9 (maintenance support) is supported by its vendor until "
        "2032-05-31 ("), ok
    unknown = rec[("VOIP-OS-02", "vn-kazoo1")]
    assert unknown["outcome"] == "skipped" and unknown["message"].startswith(
        "no end-of-life date known for Ubuntu 24.04 LTS (ID=ubuntu, VERSION_ID=24.04)"), unknown

    # VOIP-DNS-01: name → address → name at BIND; each wrong direction says what was found
    good = rec[("VOIP-DNS-01", "vn-couch1")]
    assert (good["outcome"], good["message"]) == (
        "passed", f"couch1.{DOMAIN} → {c1} → couch1.{DOMAIN}"), good
    missing = rec[("VOIP-DNS-01", "vn-couch2")]
    rev2 = ipaddress.ip_address(c2).reverse_pointer
    assert (missing["outcome"], missing["message"]) == (
        "failed", f"couch2.{DOMAIN} does not exist at the site's resolvers (NXDOMAIN); {c2} "
                  f"has no PTR record ({rev2}: NXDOMAIN (no such name))"), missing
    assert missing["expected"] == f"couch2.{DOMAIN} AAAA {c2}; PTR of {c2} → couch2.{DOMAIN}"
    wrong = rec[("VOIP-DNS-01", "vn-kazoo1")]
    assert (wrong["outcome"], wrong["message"], wrong["found"]) == (
        "failed", f"the PTR of {k1} names kazoo2.{DOMAIN}, not kazoo1.{DOMAIN}",
        f"AAAA of kazoo1.{DOMAIN}: {k1}; PTR of {k1}: kazoo2.{DOMAIN}"), wrong

    # VOIP-FLOAT-01: each held by exactly one host of its pair, read in the one round trip
    held = rec[("VOIP-FLOAT-01", None)]
    assert held["outcome"] == "passed", held
    assert f"vn-couch1 holds {floating['couch']} (vn-couch2 does not)" in held["message"]
    assert f"vn-kazoo1 holds {floating['pbx']} (vn-couch1 does not)" in held["message"]
    assert f"vn-couch2 holds {floating['self']} (vn-kazoo1 does not)" in held["message"]
    assert all(got.doc["hosts"][n]["round_trips"] == 1 for n in hosts), got.doc["hosts"]

    # VOIP-FLOAT-02: one record naming every bad name (couch's is right)
    names = rec[("VOIP-FLOAT-02", None)]
    assert (names["outcome"], names["message"]) == (
        "failed", f"floating addresses' names: pbx: pbx.{DOMAIN} resolves to "
                  f"{hosts['vn-couch1'].ipv4}, not to {floating['pbx']}; self: self.{DOMAIN} "
                  "does not exist at the site's resolvers (NXDOMAIN)"), names
    assert got.code == 1


def test_no_holder_is_the_service_down_and_the_corrected_zone_passes(
        hosts: dict[str, LabHost], floating: dict[str, str], dns: DnsServer,
        host_lab: HostLab, hold: dict[str, list[str]], tmp_path: Path) -> None:
    dns.reload(zone(hosts, floating, broken=False))
    try:
        place(hosts, floating, hold, pbx=["vn-kazoo1"], self=["vn-couch2"])  # couch: nobody
        got = run(tmp_path, host_lab, hosts, dns, floating)
    finally:
        dns.reload(zone(hosts, floating, broken=True))
    rec = got.records
    down = rec[("VOIP-FLOAT-01", None)]
    assert (down["outcome"], down["message"]) == (
        "failed", f"floating addresses: couch {floating['couch']}: service down: no host of "
                  f"vn-couch1, vn-couch2 holds {floating['couch']}"), down
    assert down["found"] == "vn-couch1: does not, vn-couch2: does not"
    for name, host in hosts.items():
        record = rec[("VOIP-DNS-01", name)]
        assert (record["outcome"], record["message"]) == (
            "passed", f"{FQDN[name]} → {host.ipv6} → {FQDN[name]}"), record
    names = rec[("VOIP-FLOAT-02", None)]
    assert names["outcome"] == "passed", names
    assert f"pbx.{DOMAIN} → {floating['pbx']}" in names["message"]


def test_both_holders_is_a_split_brain(
        hosts: dict[str, LabHost], floating: dict[str, str], dns: DnsServer,
        host_lab: HostLab, hold: dict[str, list[str]], tmp_path: Path) -> None:
    place(hosts, floating, hold, couch=["vn-couch1", "vn-couch2"], pbx=["vn-kazoo1"],
          self=["vn-couch2"])
    got = run(tmp_path, host_lab, hosts, dns, floating)
    split = got.records[("VOIP-FLOAT-01", None)]
    assert (split["outcome"], split["message"], split["found"]) == (
        "failed", f"floating addresses: couch {floating['couch']}: split brain: both "
                  f"vn-couch1 and vn-couch2 hold {floating['couch']}",
        "vn-couch1: holds it, vn-couch2: holds it"), split


def test_a_pair_host_that_cannot_be_reached_is_an_error_not_a_verdict(
        hosts: dict[str, LabHost], floating: dict[str, str], dns: DnsServer,
        host_lab: HostLab, hold: dict[str, list[str]], tmp_path: Path) -> None:
    place(hosts, floating, hold, couch=["vn-couch1"])
    got = run(tmp_path, host_lab, hosts, dns, floating,
              pairs={"couch": ["vn-couch1", "vn-gone"]})
    record = got.records[("VOIP-FLOAT-01", None)]
    assert record["outcome"] == "error", record
    assert record["message"].startswith(
        f"floating addresses: couch {floating['couch']}: cannot tell who holds "
        f"{floating['couch']}: the addresses of vn-gone (")
    assert got.doc["hosts"]["vn-gone"]["reachable"] is False
