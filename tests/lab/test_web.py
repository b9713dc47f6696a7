"""The lab's web-side services for real: BIND, nginx, HAProxy, echo backends, OpenSearch stand-in.

Every service runs in its own network namespace (indices from the module's lease); nothing here
resolves a lab name through the system resolver: DNS is asked directly (dnspython,
``configure=False``) and HTTP goes through :func:`rs_lab.webclient.pinned_session` (name →
address pinned).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.resolver
import pytest
import requests
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from rs_lab.dns import PREDETERMINED, DnsServer, ZoneSpec, dkim_txt
from rs_lab.echo import EchoBackend, ws_accept
from rs_lab.indices import Lease
from rs_lab.lb import CERT_VARIANTS, Backend, HaproxyLb, LbSpec, LoadBalancer, NginxLb
from rs_lab.netns import GATEWAY4, addr4, addr6
from rs_lab.opensearch_standin import REQUIRED_PLUGINS, VARIANTS, OpenSearchStandIn
from rs_lab.pki import Pki
from rs_lab.webclient import peer_chain, pinned_session, websocket_probe, ws_frame_payload

DOMAIN = "rs.lab"
LB_KINDS = {"nginx": NginxLb, "haproxy": HaproxyLb}
# what this module takes from its lease (mx, elsewhere: addresses where nothing runs)
PLACES = ("dns", "nginx", "haproxy", "app", "realtime", "dns_nowild", "toggle", "cert", "search",
          "search_tls", "mx", "elsewhere")

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("named") is None:  # pragma: no cover
    pytest.skip("needs root, BIND, nginx and HAProxy", allow_module_level=True)


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def idx(lab_lease: Lease) -> dict[str, int]:
    """This module's indices, by what stands there."""
    return {place: lab_lease.take(place) for place in PLACES}


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Not tmp_path: named runs as ``bind`` and must traverse every parent directory.
    path = Path(tempfile.mkdtemp(prefix="rs-lab-web-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(workdir: Path) -> Pki:
    return Pki.create(workdir / "pki")


@pytest.fixture(scope="module")
def dkim_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def lb_addresses(idx: dict[str, int], kind: str = "nginx") -> list[str]:
    return [addr4(idx[kind]), addr6(idx[kind])]


@pytest.fixture(scope="module")
def dns_server(idx: dict[str, int], workdir: Path, dkim_key: rsa.RSAPrivateKey
               ) -> Iterator[DnsServer]:
    spec = ZoneSpec(DOMAIN, lb=lb_addresses(idx), mail=[addr4(idx["mx"])], dkim_selector="rs2026",
                    dkim_public_key=dkim_key,
                    hosts={"app1": [addr4(idx["app"]), addr6(idx["app"])],
                           f"search.{DOMAIN}": addr4(idx["search"])})
    server = DnsServer(idx["dns"], workdir / "dns", spec)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dns_nowild(idx: dict[str, int], workdir: Path) -> Iterator[DnsServer]:
    spec = ZoneSpec(DOMAIN, lb=lb_addresses(idx),
                    overrides={"*": None, "api": addr4(idx["elsewhere"])},
                    explicit_predetermined=True, spf=None, mx_names=())
    server = DnsServer(idx["dns_nowild"], workdir / "dns-nowild", spec)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def backends(idx: dict[str, int], workdir: Path) -> Iterator[tuple[EchoBackend, EchoBackend]]:
    app = EchoBackend(idx["app"], workdir / "app", name="app")
    realtime = EchoBackend(idx["realtime"], workdir / "realtime", name="realtime")
    try:
        app.start()
        realtime.start()
        yield app, realtime
    finally:
        app.stop()
        realtime.stop()


def base_spec(backends: tuple[EchoBackend, EchoBackend], **kw: object) -> LbSpec:
    app, realtime = backends
    # realtime over IPv6, to prove both families work upstream
    return LbSpec(DOMAIN, app=[Backend(app.ipv4)], realtime=[Backend(realtime.ipv6)],
                  **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=sorted(LB_KINDS))
def lb(request: pytest.FixtureRequest, idx: dict[str, int], workdir: Path, pki: Pki,
       backends: tuple[EchoBackend, EchoBackend]) -> Iterator[LoadBalancer]:
    kind = request.param
    server = LB_KINDS[kind](idx[kind], workdir / kind, base_spec(backends), pki=pki)
    try:
        yield server.start()
    finally:
        server.stop()


def pins(lb: LoadBalancer, *names: str) -> dict[str, str]:
    return {n: lb.ipv4 for n in names}


def echo(lb: LoadBalancer, name: str, path: str = "/probe", *,
         verify: bool = True) -> dict[str, Any]:
    session = pinned_session(pins(lb, name), ca=lb.ca_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        resp = session.get(f"https://{name}{path}",
                           verify=str(lb.ca_path) if verify else False, timeout=10)
    resp.raise_for_status()
    body: dict[str, Any] = resp.json()
    return body


def header(body: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in body["headers"] if k.lower() == name.lower()]


def xff_chain(body: dict[str, Any]) -> list[str]:
    return [p.strip() for v in header(body, "X-Forwarded-For") for p in v.split(",")]


def assess(lb: LoadBalancer) -> set[str]:
    """What is broken about ``lb``, as the RS-LB/RS-TLS checks would see it."""
    broken: set[str] = set()
    tenant = f"t-{secrets.token_hex(4)}.{DOMAIN}"
    body = echo(lb, tenant, verify=False)
    if header(body, "Host") != [tenant]:
        broken.add("host")
    if not xff_chain(body) or xff_chain(body)[-1] != GATEWAY4:
        broken.add("xff")
    if header(body, "X-Forwarded-Proto") != ["https"]:
        broken.add("xfp")
    resp = pinned_session(pins(lb, DOMAIN)).get(f"http://{DOMAIN}/x", allow_redirects=False,
                                                timeout=10)
    if resp.status_code not in (301, 302, 307, 308) or \
            not resp.headers.get("Location", "").startswith(f"https://{DOMAIN}/"):
        broken.add("redirect")
    status, headers, _, key = websocket_probe(lb.ipv4, f"realtime.{DOMAIN}")
    if status != 101 or headers.get("sec-websocket-accept") != ws_accept(key):
        broken.add("websocket")
    if len(peer_chain(lb.ipv4, DOMAIN)) != 2:
        broken.add("chain")
    try:
        pinned_session(pins(lb, DOMAIN), ca=lb.ca_path).get(f"https://{DOMAIN}/", timeout=10)
    except requests.exceptions.SSLError:
        broken.add("verify")
    return broken


# -- DNS -----------------------------------------------------------------------------------------

def test_dns_wildcard_answers_a_never_used_name(dns_server: DnsServer, idx: dict[str, int]
                                                ) -> None:
    r = dns_server.resolver()
    name = f"rs-preflight-{secrets.token_hex(6)}.{DOMAIN}"
    assert [a.address for a in r.resolve(name, "A")] == [addr4(idx["nginx"])]
    assert [a.address for a in r.resolve(name, "AAAA")] == [addr6(idx["nginx"])]


def test_dns_apex_and_predetermined_names(dns_server: DnsServer, idx: dict[str, int]) -> None:
    r = dns_server.resolver()
    assert [a.address for a in r.resolve(DOMAIN, "A")] == [addr4(idx["nginx"])]
    assert [a.address for a in r.resolve(DOMAIN, "AAAA")] == [addr6(idx["nginx"])]
    for label in PREDETERMINED:
        assert [a.address for a in r.resolve(f"{label}.{DOMAIN}", "A")] == \
            [addr4(idx["nginx"])], label


def test_dns_mail_records(dns_server: DnsServer, dkim_key: rsa.RSAPrivateKey,
                          idx: dict[str, int]) -> None:
    r = dns_server.resolver()
    for owner in (DOMAIN, f"mail.{DOMAIN}"):
        assert [m.exchange.to_text() for m in r.resolve(owner, "MX")] == [f"mx.{DOMAIN}."]
        spf = [b"".join(t.strings).decode() for t in r.resolve(owner, "TXT")]
        assert any(s.startswith("v=spf1") for s in spf)
    assert [a.address for a in r.resolve(f"mx.{DOMAIN}", "A")] == [addr4(idx["mx"])]
    dkim = list(r.resolve(f"rs2026._domainkey.{DOMAIN}", "TXT"))
    assert len(dkim) == 1
    assert len(dkim[0].strings) > 1 and all(len(s) <= 255 for s in dkim[0].strings)
    assert b"".join(dkim[0].strings).decode() == dkim_txt(dkim_key.public_key())


def test_dns_host_records_and_tcp(dns_server: DnsServer, idx: dict[str, int]) -> None:
    r = dns_server.resolver()
    assert {a.address for a in r.resolve(f"app1.{DOMAIN}", "AAAA", tcp=True)} == \
        {addr6(idx["app"])}
    assert [a.address for a in r.resolve(f"search.{DOMAIN}", "A")] == [addr4(idx["search"])]


def test_dns_listens_only_on_lab_and_loopback(dns_server: DnsServer) -> None:
    allowed = {dns_server.ipv4, dns_server.ipv6, "127.0.0.1", "::1"}
    for flag in ("-Hlnu", "-Hlnt"):
        out = dns_server.ns.run(["ss", flag]).stdout
        local = {line.split()[3].rsplit(":", 1)[0].strip("[]").split("%")[0]
                 for line in out.splitlines() if line.strip()}
        assert local and local <= allowed, (flag, local)


def test_dns_without_wildcard_gives_nxdomain(dns_nowild: DnsServer, idx: dict[str, int]
                                             ) -> None:
    r = dns_nowild.resolver()
    with pytest.raises(dns.resolver.NXDOMAIN):
        r.resolve(f"rs-preflight-{secrets.token_hex(6)}.{DOMAIN}", "A")
    # the override points api elsewhere; the other predetermined names have their own records
    assert [a.address for a in r.resolve(f"api.{DOMAIN}", "A")] == [addr4(idx["elsewhere"])]
    with pytest.raises(dns.resolver.NoAnswer):
        r.resolve(f"api.{DOMAIN}", "AAAA")
    assert [a.address for a in r.resolve(f"graphql.{DOMAIN}", "A")] == [addr4(idx["nginx"])]
    with pytest.raises(dns.resolver.NoAnswer):
        r.resolve(DOMAIN, "MX")


# -- load balancers: the good configuration --------------------------------------------------------

@pytest.mark.parametrize("name", [DOMAIN, "tenant-a.rs.lab", *[f"{p}.{DOMAIN}"
                                                                for p in PREDETERMINED]])
def test_lb_forwards_host_xff_xfp(lb: LoadBalancer, name: str) -> None:
    body = echo(lb, name)
    assert header(body, "Host") == [name]
    assert xff_chain(body)[-1] == GATEWAY4
    assert header(body, "X-Forwarded-Proto") == ["https"]
    assert body["client"][0] in (lb.ipv4, lb.ipv6)       # what RS-LB-06 looks at
    assert body["server"] == ("realtime" if name.startswith("realtime.") else "app")


def test_lb_good_configuration_breaks_nothing(lb: LoadBalancer) -> None:
    assert assess(lb) == set()


def test_lb_chain_is_leaf_plus_intermediate(lb: LoadBalancer, pki: Pki) -> None:
    chain = peer_chain(lb.ipv4, f"tenant.{DOMAIN}")
    assert lb.issued is not None
    assert [c.subject for c in chain] == [lb.issued.cert.subject, pki.inter.subject]
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {f"*.{DOMAIN}", DOMAIN}


def test_lb_redirects_http_to_https(lb: LoadBalancer) -> None:
    session = pinned_session(pins(lb, DOMAIN, f"x.{DOMAIN}"), ca=lb.ca_path)
    resp = session.get(f"http://x.{DOMAIN}/a/b?c=d", allow_redirects=False, timeout=10)
    assert resp.status_code == 301
    assert resp.headers["Location"] == f"https://x.{DOMAIN}/a/b?c=d"
    followed = session.get(f"http://x.{DOMAIN}/a/b?c=d", timeout=10)
    assert followed.status_code == 200 and followed.url.startswith("https://")


def test_lb_health_paths(lb: LoadBalancer) -> None:
    session = pinned_session(pins(lb, DOMAIN, f"realtime.{DOMAIN}"), ca=lb.ca_path)
    for name in (DOMAIN, f"realtime.{DOMAIN}"):
        teapot = session.get(f"https://{name}/teapot", timeout=10)
        assert (teapot.status_code, teapot.text) == (200, "I am a teapot")
    gif = session.get(f"https://{DOMAIN}/_gif", timeout=10)
    assert gif.status_code == 200 and gif.content.startswith(b"GIF89a")


def test_lb_websocket_upgrade_reaches_realtime(lb: LoadBalancer) -> None:
    status, headers, extra, key = websocket_probe(lb.ipv4, f"realtime.{DOMAIN}", ca=lb.ca_path)
    assert status == 101
    assert headers["sec-websocket-accept"] == ws_accept(key)
    seen = json.loads(ws_frame_payload(extra))
    assert seen["server"] == "realtime"
    assert header(seen, "Host") == [f"realtime.{DOMAIN}"]


def test_lb_over_ipv6(lb: LoadBalancer) -> None:
    session = pinned_session({DOMAIN: lb.ipv6}, ca=lb.ca_path)
    body = session.get(f"https://{DOMAIN}/v6", timeout=10).json()
    assert xff_chain(body)[-1] == "fd00:{}::1".format(GATEWAY4.split(".")[1])


def test_echo_backends_answer_directly(backends: tuple[EchoBackend, EchoBackend]) -> None:
    app, realtime = backends
    session = requests.Session()
    session.trust_env = False
    for b in (app, realtime):
        assert session.get(f"http://{b.ipv4}/teapot", timeout=10).text == "I am a teapot"
        status, headers, _, key = websocket_probe(b.ipv4, "x", port=80, tls=False)
        assert status == 101 and headers["sec-websocket-accept"] == ws_accept(key)


# -- load balancers: each toggle breaks exactly its thing ----------------------------------------

TOGGLES = {
    "drop_xfp": {"xfp"},
    "rewrite_host": {"host"},
    "no_xff": {"xff"},
    "no_redirect": {"redirect"},
    "no_websocket": {"websocket"},
    "missing_intermediate": {"chain", "verify"},
}


@pytest.mark.parametrize("toggle", sorted(TOGGLES))
@pytest.mark.parametrize("kind", sorted(LB_KINDS))
def test_lb_toggle_breaks_exactly_one_thing(kind: str, toggle: str, idx: dict[str, int],
                                            workdir: Path, pki: Pki,
                                            backends: tuple[EchoBackend, EchoBackend]) -> None:
    server = LB_KINDS[kind](idx["toggle"], workdir / f"{kind}-{toggle}",
                            base_spec(backends, **{toggle: True}), pki=pki)
    try:
        server.start()
        assert assess(server) == TOGGLES[toggle]
        if toggle == "rewrite_host":
            assert header(echo(server, DOMAIN), "Host") == ["rs_app"]
        if toggle == "missing_intermediate":
            assert server.issued is not None
            assert [c.subject for c in peer_chain(server.ipv4, DOMAIN)] == \
                [server.issued.cert.subject]
    finally:
        server.stop()


# -- certificate variants ------------------------------------------------------------------------

@pytest.mark.parametrize("variant", CERT_VARIANTS)
@pytest.mark.parametrize("kind", sorted(LB_KINDS))
def test_lb_certificate_variants(kind: str, variant: str, idx: dict[str, int], workdir: Path,
                                 pki: Pki, backends: tuple[EchoBackend, EchoBackend]) -> None:
    server = LB_KINDS[kind](idx["cert"], workdir / f"{kind}-cert-{variant}",
                            base_spec(backends, cert=variant), pki=pki)
    try:
        server.start()
        chain = peer_chain(server.ipv4, DOMAIN)
        leaf = chain[0]
        now = dt.datetime.now(dt.UTC)
        san = set(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
                  .value.get_values_for_type(x509.DNSName))
        assert len(chain) == (1 if variant in ("no-intermediate", "self-signed") else 2)
        if variant == "expired":
            assert leaf.not_valid_after_utc < now
        elif variant == "not-yet-valid":
            assert leaf.not_valid_before_utc > now
        elif variant == "expiring-soon":
            assert now < leaf.not_valid_after_utc < now + dt.timedelta(days=30)
        elif variant == "wrong-names":
            assert DOMAIN not in san and f"*.{DOMAIN}" not in san
        elif variant == "no-apex":
            assert san == {f"*.{DOMAIN}"}
        elif variant in ("rsa1024", "rsa2048"):
            key = leaf.public_key()
            assert isinstance(key, rsa.RSAPublicKey) and key.key_size == int(variant[3:])
        elif variant == "sha1":
            algorithm = leaf.signature_hash_algorithm
            assert algorithm is not None and algorithm.name == "sha1"
        elif variant == "self-signed":
            assert leaf.issuer == leaf.subject
        else:
            assert variant in ("good", "no-intermediate")
        verifies = variant in ("good", "expiring-soon", "rsa2048")
        session = pinned_session(pins(server, DOMAIN), ca=server.ca_path)
        try:
            session.get(f"https://{DOMAIN}/", timeout=10)
            verified = True
        except requests.exceptions.SSLError:
            verified = False
        assert verified == verifies
    finally:
        server.stop()


# -- OpenSearch stand-in ---------------------------------------------------------------------------

@pytest.fixture(scope="module", params=sorted(VARIANTS))
def search(request: pytest.FixtureRequest, idx: dict[str, int], workdir: Path
           ) -> Iterator[OpenSearchStandIn]:
    server = OpenSearchStandIn(idx["search"], workdir / f"search-{request.param}",
                               request.param)
    try:
        yield server.start()
    finally:
        server.stop()


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def test_search_standin_answers_documented_shapes(search: OpenSearchStandIn) -> None:
    spec, s = search.spec, _session()
    root = s.get(f"{search.url}/", timeout=10).json()
    assert set(root) == {"name", "cluster_name", "cluster_uuid", "version", "tagline"}
    assert set(root["version"]) >= {"number", "build_type", "build_hash", "build_date",
                                     "build_snapshot", "lucene_version",
                                     "minimum_wire_compatibility_version",
                                     "minimum_index_compatibility_version"}
    assert root["version"].get("distribution") == spec.distribution
    assert root["version"]["number"] == (spec.reported_number or spec.version)

    rows = s.get(f"{search.url}/_cat/plugins?format=json", timeout=10).json()
    assert all(set(r) == {"name", "component", "version"} and
               all(isinstance(v, str) for v in r.values()) for r in rows)
    nodes = {r["name"] for r in rows}
    assert len(nodes) == spec.nodes
    complete = all({r["component"] for r in rows if r["name"] == n} >= set(REQUIRED_PLUGINS)
                   for n in nodes)
    assert complete == (search.spec is not VARIANTS["missing-plugin"])

    health = s.get(f"http://[{search.ipv6}]:9200/_cluster/health", timeout=10).json()
    assert health["status"] == spec.status
    assert health["number_of_nodes"] == spec.nodes
    assert (health["unassigned_shards"] > 0) == (spec.status != "green")
    assert set(health) >= {"cluster_name", "timed_out", "number_of_data_nodes",
                           "discovered_cluster_manager", "active_primary_shards",
                           "active_shards", "relocating_shards", "initializing_shards",
                           "active_shards_percent_as_number"}


def test_search_standin_variant_facts() -> None:
    assert VARIANTS["3.5.0"].root()["version"]["distribution"] == "opensearch"
    assert VARIANTS["2.19.1"].root()["version"]["number"] == "2.19.1"
    compat = VARIANTS["compat-7.10.2"].root()["version"]
    assert compat["number"] == "7.10.2" and "distribution" not in compat


def test_search_standin_https_basic_auth(idx: dict[str, int], workdir: Path, pki: Pki) -> None:
    spec = VARIANTS["3.5.0"].with_(tls=True, nodes=3)
    server = OpenSearchStandIn(idx["search_tls"], workdir / "search-tls", spec, pki=pki,
                               cert_names=[f"search.{DOMAIN}"])
    try:
        server.start()
        s = _session()
        denied = s.get(f"{server.url}/", verify=str(server.ca_path), timeout=10)
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"].startswith("Basic")
        wrong = s.get(f"{server.url}/", verify=str(server.ca_path), auth=("admin", "nope"),
                      timeout=10)
        assert wrong.status_code == 401
        ok = s.get(f"{server.url}/_cluster/health", verify=str(server.ca_path),
                   auth=server.auth, timeout=10)
        assert ok.status_code == 200 and ok.json()["number_of_nodes"] == 3
        by_name = pinned_session({f"search.{DOMAIN}": server.ipv4}, ca=server.ca_path)
        assert by_name.get(f"https://search.{DOMAIN}:9200/", auth=server.auth,
                           timeout=10).json()["version"]["number"] == "3.5.0"
    finally:
        server.stop()
