"""RS-DNS-*, RS-TLS-*, RS-LB-* end to end, as a user runs them, against the real lab.

BIND, nginx or HAProxy, and header-echo backends in namespaces of the module's lease; the
product runs as ``python -m rs_preflight.cli --site site.yaml -k "RS-DNS or RS-TLS or RS-LB"`` in
a fresh folder and ``rs-preflight-report/results.json`` is read. The healthy site passes all 15
requirements with both load balancers; each broken variant fails its requirement, for its reason.

Few bring-ups (CI has 2 cores): one DNS server (zone reloaded per variant), two echo backends
(plus one that lies about /teapot), and one load-balancer namespace in which only the nginx or
HAProxy process is restarted per variant. Everything is torn down, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rs_lab.dns import DnsServer, ZoneSpec
from rs_lab.echo import EchoBackend
from rs_lab.indices import Lease
from rs_lab.lb import Backend, HaproxyLb, LbSpec, LoadBalancer, NginxLb
from rs_lab.netns import GATEWAY4, Namespace, addr4, addr6, create_fresh
from rs_lab.pki import Pki
from rs_lab.preflight import Run, run_preflight

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("named") is None:  # pragma: no cover
    pytest.skip("needs root, BIND, nginx and HAProxy", allow_module_level=True)

DOMAIN = "rs.lab"
# what this module takes from its lease (mx, elsewhere: addresses where nothing runs)
PLACES = ("lb", "dns", "app", "realtime", "liar", "mx", "elsewhere")
KINDS = {"nginx": NginxLb, "haproxy": HaproxyLb}
IDS = ("RS-DNS-01", "RS-DNS-02", "RS-DNS-03", "RS-DNS-04", "RS-TLS-01", "RS-TLS-02",
       "RS-TLS-03", "RS-TLS-04", "RS-TLS-05", "RS-LB-01", "RS-LB-02", "RS-LB-03", "RS-LB-04",
       "RS-LB-05", "RS-LB-06")
TRUSTED = f"{GATEWAY4.rsplit('.', 1)[0]}.0/24,{addr6(0)}/64"


# -- the lab --------------------------------------------------------------------------------------

@dataclass
class WebLab:
    workdir: Path
    pki: Pki
    dkim_key: rsa.RSAPrivateKey
    dns: DnsServer
    app: Any
    realtime: Any
    liar: Any
    lb_ns: Namespace
    idx: dict[str, int]
    runs: int = 0
    lb: LoadBalancer | None = field(default=None)

    @property
    def lb_addresses(self) -> list[str]:
        return [self.lb_ns.ipv4, self.lb_ns.ipv6]

    @property
    def elsewhere4(self) -> str:
        return addr4(self.idx["elsewhere"])

    @property
    def elsewhere6(self) -> str:
        return addr6(self.idx["elsewhere"])

    def zone(self, **kw: Any) -> ZoneSpec:
        base: dict[str, Any] = {"lb": self.lb_addresses, "mail": [addr4(self.idx["mx"])],
                                "dkim_selector": "rs2026", "dkim_public_key": self.dkim_key}
        return ZoneSpec(DOMAIN, **{**base, **kw})

    def serve(self, kind: str, *, liar: bool = False, **toggles: Any) -> None:
        """(Re)start only the load balancer process, as ``kind`` with ``toggles``."""
        self.stop_lb()
        app = self.liar if liar else self.app
        spec = LbSpec(DOMAIN, app=[Backend(app.ipv4)], realtime=[Backend(self.realtime.ipv6)],
                      **toggles)
        self.runs += 1
        lb = KINDS[kind](self.lb_ns, self.workdir / f"lb-{self.runs}-{kind}", spec, pki=self.pki)
        lb.start()
        self.lb = lb

    def stop_lb(self) -> None:
        if self.lb is not None:
            self.lb.stop()
            self.lb = None


@pytest.fixture(scope="module")
def web_lab(lab_lease: Lease) -> Iterator[WebLab]:
    idx = {place: lab_lease.take(place) for place in PLACES}
    workdir = Path(tempfile.mkdtemp(prefix="rs-checks-web-"))
    workdir.chmod(0o711)  # named runs as bind and must traverse it
    stack = contextlib.ExitStack()
    try:
        pki = Pki.create(workdir / "pki")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        lb_ns = create_fresh(Namespace("pf-lb", idx["lb"]))
        stack.callback(lb_ns.destroy)
        backends: list[Any] = []
        for name, body in (("app", None), ("realtime", None), ("liar", "I am a kettle")):
            kw: dict[str, Any] = {"teapot_body": body} if body else {}
            svc = EchoBackend(idx[name], workdir / name, name="app" if name == "liar" else name,
                              **kw)
            stack.callback(svc.stop)
            backends.append(svc.start())
        app, realtime, liar = backends
        lab = WebLab(workdir, pki, key, None, app, realtime, liar,  # type: ignore[arg-type]
                     lb_ns, idx)
        dns = DnsServer(idx["dns"], workdir / "dns", lab.zone())
        stack.callback(dns.stop)
        dns.start()
        lab.dns = dns
        stack.callback(lab.stop_lb)
        yield lab
    finally:
        stack.close()
        shutil.rmtree(workdir, ignore_errors=True)


# -- running the product as a user does -----------------------------------------------------------

def write_site(folder: Path, lab: WebLab, *, phase: str = "post",
               settings: dict[str, str] | None = None) -> Path:
    key = folder / "dkim.key"
    key.write_bytes(lab.dkim_key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    values = {"ITRP_TRUSTED_PROXIES": TRUSTED, "ITRP_INBOUND_MAILBOX": f"rs@mail.{DOMAIN}",
              "ITRP_NOREPLY_MAILBOX": f"noreply@{DOMAIN}", "MAIL_DKIM_ENABLED": "true",
              "MAIL_DKIM_SELECTOR": "rs2026", **(settings or {})}
    lines = [
        "name: lab-web", "profile: small", f"phase: {phase}", f"domain: {DOMAIN}",
        "hosts:",
        f"  app1: {{address: {lab.app.ipv4}, roles: [app], ssh: false}}",
        f"  rt1: {{address: {lab.realtime.ipv4}, roles: [realtime], ssh: false}}",
        f"load_balancer: {{addresses: [{', '.join(lab.lb_addresses)}], backend_port: 80}}",
        f"dns: {{resolvers: [{lab.dns.ipv4}], timeout: 2}}",
        f"tls: {{ca_bundle: {lab.pki.root_path}, warn_days: 30}}",
        "settings:", "  MAIL_DKIM_PRIVATE_KEY_file: dkim.key",
        *(f"  {k}: {json.dumps(v)}" for k, v in values.items()),
    ]
    path = folder / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_checks(lab: WebLab, **site: Any) -> Run:
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=lab.workdir))
    path = write_site(folder, lab, **site)
    return run_preflight(path, "-k", "RS-DNS or RS-TLS or RS-LB", cwd=folder)


def assert_only(run: Run, failing: dict[str, str]) -> None:
    """``failing`` requirements fail (with that text in the message); all others pass."""
    for rid in IDS:
        record = run[rid]
        if rid in failing:
            assert record["outcome"] == "failed", record
            assert failing[rid] in record["message"], record
            assert record["expected"] and record["found"], record
        else:
            assert record["outcome"] == "passed", record


# -- healthy --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_healthy_site_passes_everything(web_lab: WebLab, kind: str) -> None:
    web_lab.dns.reload(web_lab.zone())
    web_lab.serve(kind)
    run = run_checks(web_lab)
    assert_only(run, {})
    assert run.code == 0 and run.doc["gate"] == "incomplete"  # -k: nothing failed, narrowed
    assert "rs-preflight-" in run["RS-DNS-02"]["message"]            # a fresh random label
    assert "all 9 names" in run["RS-DNS-03"]["message"], run["RS-DNS-03"]
    assert "22 checked" in run["RS-TLS-01"]["message"], run["RS-TLS-01"]  # 11 names × 2 LB IPs
    assert "BEGIN" not in json.dumps(run.doc)                        # the DKIM key never shows


def test_pre_phase_runs_the_echo_checks_and_skips_health(web_lab: WebLab) -> None:
    web_lab.dns.reload(web_lab.zone())
    web_lab.serve("nginx")
    run = run_checks(web_lab, phase="pre")
    assert run["RS-LB-04"]["outcome"] == "skipped"
    for rid in ("RS-LB-01", "RS-LB-02", "RS-LB-03", "RS-LB-05", "RS-LB-06"):
        assert run[rid]["outcome"] == "passed", run[rid]


# -- broken DNS -----------------------------------------------------------------------------------

def test_broken_dns_fails_each_name_for_its_reason(web_lab: WebLab) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    web_lab.dns.reload(web_lab.zone(
        overrides={"@": [web_lab.elsewhere4], "*": None, "io": web_lab.elsewhere4,
                   "api": [web_lab.lb_ns.ipv4, web_lab.elsewhere6]},
        explicit_predetermined=True, dkim_public_key=other))
    web_lab.serve("nginx")
    try:
        run = run_checks(web_lab)
    finally:
        web_lab.dns.reload(web_lab.zone())
    assert_only(run, {"RS-DNS-01": f"resolves to {web_lab.elsewhere4}",
                      "RS-DNS-02": "does not resolve",
                      "RS-DNS-03": f"io.{DOMAIN}",
                      "RS-DNS-04": "holds another key"})
    assert f"api.{DOMAIN}" in run["RS-DNS-03"]["message"]
    assert web_lab.elsewhere6 in run["RS-DNS-03"]["message"]                 # AAAA elsewhere, named
    assert "graphql" not in run["RS-DNS-03"]["message"]
    assert run["RS-DNS-04"]["severity"] == "blocker" and run.code == 1


def test_missing_spf_is_a_warning(web_lab: WebLab) -> None:
    web_lab.dns.reload(web_lab.zone(spf=None))
    web_lab.serve("nginx")
    try:
        run = run_checks(web_lab)
    finally:
        web_lab.dns.reload(web_lab.zone())
    assert_only(run, {"RS-DNS-04": "no SPF record"})
    assert run["RS-DNS-04"]["severity"] == "warning"
    assert run.code == 0 and run.doc["gate"] == "incomplete"  # -k: nothing failed, narrowed


# -- broken certificates and load balancers (both kinds) ------------------------------------------

VARIANTS: dict[str, tuple[dict[str, Any], dict[str, str], dict[str, str]]] = {
    # name: (LB toggles, failing requirement → text in its message, site settings)
    "no-apex+no-redirect": ({"cert": "no-apex", "no_redirect": True},
                            {"RS-TLS-01": f"({DOMAIN} @", "RS-TLS-05": "does not redirect"}, {}),
    "wrong-names+drop-xfp": ({"cert": "wrong-names", "drop_xfp": True},
                             {"RS-TLS-01": "not covered by the certificate's names *.wrong.lab",
                              "RS-LB-03": "no X-Forwarded-Proto"}, {}),
    "no-intermediate+rewrite-host": ({"missing_intermediate": True, "rewrite_host": True},
                                     {"RS-TLS-02": "sends no intermediate",
                                      "RS-LB-01": "Host: rs_"}, {}),
    "expired+no-xff": ({"cert": "expired", "no_xff": True},
                       {"RS-TLS-03": "expired on", "RS-LB-02": "no X-Forwarded-For"}, {}),
    "not-yet-valid+no-websocket": ({"cert": "not-yet-valid", "no_websocket": True},
                                   {"RS-TLS-03": "not valid yet",
                                    "RS-LB-05": "not passed through"}, {}),
    "expiring-soon+untrusted-proxy": ({"cert": "expiring-soon"},
                                      {"RS-TLS-03": "within 30", "RS-LB-06": "outside"},
                                      {"ITRP_TRUSTED_PROXIES": "172.16.0.0/12"}),
    "rsa1024": ({"cert": "rsa1024"}, {"RS-TLS-04": "RSA 1024-bit key"}, {}),
    "sha1+lying-teapot": ({"cert": "sha1", "liar": True},
                          {"RS-TLS-04": "signed with SHA1", "RS-LB-04": "another body"}, {}),
}
# What else a variant breaks, honestly: the web-PKI verifier refuses a SHA-1 signature too.
ALSO = {"sha1+lying-teapot": {"RS-TLS-02": "verif"}}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_broken_variant_fails_for_its_reason(web_lab: WebLab, kind: str, variant: str) -> None:
    toggles, failing, settings = VARIANTS[variant]
    web_lab.serve(kind, **toggles)
    run = run_checks(web_lab, settings=settings)
    assert_only(run, {**failing, **ALSO.get(variant, {})})
    warnings_only = all(run[r]["severity"] == "warning" for r in failing)
    assert run.code == (0 if warnings_only else 1), run.output[-2000:]
    if variant.startswith("expiring-soon"):
        assert run["RS-TLS-03"]["severity"] == "warning"


# -- could not check ------------------------------------------------------------------------------

def test_unreachable_lb_and_missing_resolvers_are_errors(web_lab: WebLab) -> None:
    web_lab.stop_lb()
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=web_lab.workdir))
    path = write_site(folder, web_lab)
    text = path.read_text().replace(f"dns: {{resolvers: [{web_lab.dns.ipv4}], timeout: 2}}\n",
                                    "")
    path.write_text(text)
    run = run_preflight(path, "-k", "RS-DNS or RS-TLS or RS-LB", cwd=folder)
    for rid in IDS:
        assert run[rid]["outcome"] == "error", run[rid]
    assert "no dns.resolvers" in run["RS-DNS-01"]["message"]
    assert "refused" in run["RS-TLS-01"]["message"].lower()
    assert run.code == 1
