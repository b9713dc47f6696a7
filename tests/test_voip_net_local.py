"""The VoIP name kinds where they cannot judge, on this machine (local backend, no network):
a host without ``fqdn`` is n/a, an address of the wrong family or a site without resolvers is
an error saying why — never a verdict. The verdicts themselves are proven against BIND and
lab hosts in tests/lab/test_voip_net.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "examples" / "catalogues" / "voip.yaml"

SITE = """\
name: voip-here
profile: standard
phase: post
hosts:
  a: {connection: local, address: "2001:db8::1", fqdn: a.voip.test, roles: [db]}
  b: {connection: local, address: 192.0.2.1, fqdn: b.voip.test, roles: [db]}
  c: {connection: local, roles: [app]}
floating_addresses:
  couch: {address: "2001:db8::9", hosts: [a, b], name: couch.voip.test}
"""


def test_what_cannot_be_judged_is_said(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(SITE)
    env = {**{k: v for k, v in os.environ.items() if k != "RS_PREFLIGHT_SITE"},
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "--site", "site.yaml",
                           "--rs-catalogue", str(CATALOGUE), "-k",
                           "VOIP-DNS-01 or VOIP-OS-02 or VOIP-FLOAT"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    got = {(r["requirement"], r["host"]): (r["outcome"], r["message"]) for r in doc["results"]}
    no_resolver = ("error", "no dns.resolvers in the site: rs-preflight never asks the "
                            "runner's own resolver about the site's names")
    assert got[("VOIP-DNS-01", "a")] == no_resolver, proc.stdout[-3000:]
    assert got[("VOIP-DNS-01", "b")] == (
        "error", "the address of b in the site, 192.0.2.1, is not an IPv6 address: cannot "
                 "tell which AAAA record b.voip.test must have (give hosts.b.address as the "
                 "host's AAAA address)")
    assert got[("VOIP-DNS-01", "c")] == (
        "skipped", "c has no DNS name in the site (hosts.c.fqdn): nothing to resolve")
    assert got[("VOIP-FLOAT-02", None)] == no_resolver
    # this machine holds neither address of the pair (the same machine twice: both say no)
    assert got[("VOIP-FLOAT-01", None)] == (
        "failed", "floating addresses: couch 2001:db8::9: service down: no host of a, b "
                  "holds 2001:db8::9")
    # whatever this machine runs, it is judged or said to be unknown — never an error
    assert got[("VOIP-OS-02", "a")][0] in ("passed", "failed", "skipped")
    assert proc.returncode == 1
