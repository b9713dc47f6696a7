"""The VoIP complex of seeds/001 as data: its catalogue (examples/catalogues/voip.yaml) and its
example sites — the document's host table as written (the lint reports its duplicates and the
name outside the zone, with their lines) and corrected (clean)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.site import load_site

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "examples" / "catalogues" / "voip.yaml"
AS_WRITTEN = ROOT / "examples" / "voip" / "site.yaml"
FIXED = ROOT / "examples" / "voip" / "site-fixed.yaml"
ENV = {**{k: v for k, v in os.environ.items() if k != "RS_PREFLIGHT_SITE"},
       "PYTHONPATH": str(ROOT)}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rs_preflight.cli", *args],
                          cwd=AS_WRITTEN.parent, capture_output=True, text=True, timeout=120,
                          env=ENV)


def test_the_catalogue_names_its_document_and_gives_every_requirement_a_kind() -> None:
    raw = yaml.safe_load(CATALOGUE.read_text())
    assert "seeds/001_39985f0069c2d77d.txt" in raw["guide"]
    catalogue = load_catalogue(CATALOGUE)
    assert catalogue.roles == ("db", "app", "sip", "web")
    assert len(catalogue) == 14 and all(rid.startswith("VOIP-") for rid in catalogue)
    for rid, body in raw["requirements"].items():
        assert body["kind"] and isinstance(body["params"], dict), rid
        assert "thresholds" not in body and "implements" not in body, rid
        assert set(catalogue[rid].roles) <= {*catalogue.roles, "site"}, rid
        assert body["remediation"] and body["section"], rid
    kinds = {body["kind"] for body in raw["requirements"].values()}
    assert kinds == {"os_supported", "os_end_of_life", "dns_forward_reverse",
                     "profile_host_counts", "floating_address", "dns_floating_names",
                     "couchdb_version", "couchdb_replication", "rabbitmq_cluster",
                     "process_running", "network_matrix"}
    eol = raw["requirements"]["VOIP-OS-02"]["params"]["releases"][0]
    assert (eol["id"], eol["version"], eol["eol"]) == ("centos", "7", "2024-06-30")
    flows = {(f["to_role"], f["port"])
             for f in raw["requirements"]["VOIP-NET-01"]["params"]["flows"]}
    assert flows == {("db", 5984), ("db", 5672), ("sip", 8031), ("sip", 4369)}


def test_requirements_lists_the_voip_catalogue() -> None:
    rows = json.loads(cli("requirements", "--format", "json", "--rs-catalogue",
                          str(CATALOGUE)).stdout)
    assert [r["id"] for r in rows][:3] == ["VOIP-OS-01", "VOIP-OS-02", "VOIP-DNS-01"]
    assert len(rows) == 14


def test_the_table_as_written_is_refused_for_the_documents_own_mistakes() -> None:
    proc = cli("lint", "--site", "site.yaml", "--rs-catalogue", str(CATALOGUE))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    same = "one address, 4 hosts (fs1, fs2, nginx1, nginx2); each host needs its own address"
    assert proc.stdout.splitlines() == [
        "error: site.yaml:39: hosts.fs2.fqdn: fs1.voip.rcsnet.ru is also the DNS name of host "
        "fs1 (line 35); a name belongs to one host or floating address",
        "error: site.yaml:40: hosts.fs2.address: fd75:9fac:a7b1:92:6c::601 is also the "
        f"address of host fs1 (line 36): {same}",
        "error: site.yaml:44: hosts.nginx1.address: fd75:9fac:a7b1:92:6c::601 is also the "
        f"address of host fs1 (line 36): {same}",
        "error: site.yaml:48: hosts.nginx2.address: fd75:9fac:a7b1:92:6c::601 is also the "
        f"address of host fs1 (line 36): {same}",
        "warning: site.yaml:23: hosts.couch2.fqdn: couch2.db.rcsnet.ru1 is outside the site's "
        "domain rcsnet.ru (host couch2)",
        "rs-preflight lint: site.yaml: 4 error(s), 1 warning(s): refused: a run exits 4"]
    run = cli("--site", "site.yaml", "--rs-catalogue", str(CATALOGUE), "--collect-only")
    assert run.returncode == 4 and "site.yaml:48: hosts.nginx2.address" in run.stderr


def test_the_corrected_table_is_clean_with_its_names_and_floating_addresses() -> None:
    proc = cli("lint", "--site", str(FIXED), "--rs-catalogue", str(CATALOGUE), "--strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = load_site(FIXED, catalogue=load_catalogue(CATALOGUE))
    assert site.warnings == () and site.phase == "post" and site.domain == "rcsnet.ru"
    assert {h.name: (h.fqdn, h.roles) for h in site.hosts} == {
        "couch1": ("couch1.db.rcsnet.ru", ("db",)), "couch2": ("couch2.db.rcsnet.ru", ("db",)),
        "kazoo1": ("kazoo1.app.rcsnet.ru", ("app",)), "kazoo2": ("kazoo2.app.rcsnet.ru", ("app",)),
        "fs1": ("fs1.voip.rcsnet.ru", ("sip",)), "fs2": ("fs2.voip.rcsnet.ru", ("sip",)),
        "nginx1": ("nginx1.http.rcsnet.ru", ("web",)),
        "nginx2": ("nginx2.http.rcsnet.ru", ("web",))}
    assert [(f.label, f.name, f.address, f.hosts) for f in site.floating] == [
        ("couch", "couch.db.rcsnet.ru", "fd75:9fac:a7b1:92:6c::900", ("couch1", "couch2")),
        ("pbx", "pbx.rcsnet.ru", "91.103.196.13", ("fs1", "fs2")),
        ("self", "self.rcsnet.ru", "217.12.243.138", ("nginx1", "nginx2"))]
    for role, need in load_catalogue(CATALOGUE).profiles[site.profile].items():
        assert len(site.hosts_with(role)) == need["count"], role
