"""The lab's load balancer, in two real variants: nginx 1.22 (:class:`NginxLb`) and HAProxy 2.6
(:class:`HaproxyLb`), each in its own namespace.

Both terminate TLS on 443 with a leaf from :mod:`rs_lab.pki` (``*.<domain>`` + ``<domain>``,
signed by the lab intermediate, served with the intermediate), redirect port 80 to https, and
forward to the app backends keeping ``Host``, adding ``X-Forwarded-For`` and
``X-Forwarded-Proto: https``; requests for the realtime name go to the realtime backends with
WebSocket upgrade passed through.

>>> spec = LbSpec(app=[Backend("10.213.0.103")], realtime=[Backend("10.213.0.104")])
>>> with NginxLb(101, workdir, spec, pki=pki) as lb:
...     lb.ipv4, lb.chain_path, lb.ca_path

Each :class:`LbSpec` toggle breaks exactly one thing (REQUIREMENTS.md RS-TLS-*, RS-LB-*):
``drop_xfp``, ``rewrite_host`` (backend sees ``Host: rs_app`` / ``rs_realtime``), ``no_xff``,
``no_redirect`` (port 80 proxies plain http to the app instead), ``no_websocket`` (Upgrade is not
passed, the realtime backend answers 200), ``missing_intermediate`` (only the leaf is sent).
``cert`` picks the certificate: see :data:`CERT_VARIANTS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rs_lab.netns import LabError, Namespace
from rs_lab.pki import Issued, Pki
from rs_lab.service import LabService

CERT_VARIANTS = (
    "good",            # *.<domain> + <domain>, EC P-256, SHA-256, 365 days, via intermediate
    "no-intermediate",  # same leaf, but the server sends only the leaf
    "expired",         # valid 400 → 35 days ago
    "not-yet-valid",   # valid from 10 days ahead
    "expiring-soon",   # expires in 10 days (a warning under RS-TLS-03's 30 days)
    "wrong-names",     # *.wrong.lab + wrong.lab
    "no-apex",         # *.<domain> only: the apex fails RFC 6125
    "rsa1024",         # RSA 1024-bit key
    "rsa2048",         # RSA 2048-bit key (passes)
    "sha1",            # SHA-1 signature
    "self-signed",     # leaf signed by itself, no chain
)
WEAK = {"rsa1024", "sha1"}  # the server needs OpenSSL @SECLEVEL=0 to even load these


@dataclass(frozen=True)
class Backend:
    """One upstream server: address (IPv4 or IPv6), port, plain HTTP or HTTPS (not verified)."""

    address: str
    port: int = 80
    tls: bool = False

    @property
    def hostport(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else \
            f"{self.address}:{self.port}"


@dataclass
class LbSpec:
    domain: str = "rs.lab"
    app: Sequence[Backend] = ()
    realtime: Sequence[Backend] | None = None     # default: the app backends
    realtime_name: str | None = None              # default: realtime.<domain>
    cert: str = "good"
    drop_xfp: bool = False
    rewrite_host: bool = False
    no_xff: bool = False
    no_redirect: bool = False
    no_websocket: bool = False
    missing_intermediate: bool = False
    extra_names: Sequence[str] = field(default_factory=tuple)  # more SAN entries for "good"

    @property
    def rt_name(self) -> str:
        return self.realtime_name or f"realtime.{self.domain}"

    @property
    def rt_backends(self) -> Sequence[Backend]:
        return self.realtime if self.realtime is not None else self.app


def issue_lb_cert(pki: Pki, stem: str, domain: str, variant: str,
                  extra_names: Sequence[str] = ()) -> Issued:
    """Issue the load balancer's leaf for ``variant`` (one of :data:`CERT_VARIANTS`)."""
    if variant not in CERT_VARIANTS:
        raise LabError(f"unknown certificate variant {variant!r}; known: {CERT_VARIANTS}")
    names = [f"*.{domain}", domain, *extra_names]
    now = dt.datetime.now(dt.UTC)
    kw: dict[str, object] = {}
    if variant == "expired":
        kw = {"not_before": now - dt.timedelta(days=400), "days": 365}
    elif variant == "not-yet-valid":
        kw = {"not_before": now + dt.timedelta(days=10), "days": 365}
    elif variant == "expiring-soon":
        kw = {"not_before": now - dt.timedelta(days=355), "days": 365}
    elif variant == "wrong-names":
        names = ["*.wrong.lab", "wrong.lab"]
    elif variant == "no-apex":
        names = [f"*.{domain}"]
    elif variant == "rsa1024":
        kw = {"key_type": "rsa1024"}
    elif variant == "rsa2048":
        kw = {"key_type": "rsa2048"}
    elif variant == "sha1":
        return _issue_sha1(pki, stem, names)
    elif variant == "self-signed":
        kw = {"self_signed": True}
    return pki.issue(stem, names, **kw)  # type: ignore[arg-type]


def _issue_sha1(pki: Pki, stem: str, names: Sequence[str]) -> Issued:
    """A leaf signed with SHA-1 by the lab intermediate.

    ``cryptography`` >= 4x refuses to sign with SHA-1 (``Pki.issue(hash_alg=SHA1())`` raises
    UnsupportedAlgorithm), so the ``openssl`` CLI re-signs a normally issued leaf's key.
    """
    import subprocess

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    base = pki.issue(stem, names)  # key + file names; the certificate is replaced below
    work = pki.folder / f"{stem}.sha1"
    work.mkdir(exist_ok=True)
    inter_key = work / "intermediate.key"
    inter_key.write_bytes(pki.inter_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    inter_key.chmod(0o600)
    san = ",".join(f"DNS:{n}" for n in names)
    (work / "ext.cnf").write_text(
        f"[v3]\nsubjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    def run(*argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    run("openssl", "req", "-new", "-key", str(base.key_path), "-subj",
        f"/O=rs-preflight lab/CN={names[0]}", "-out", str(work / "leaf.csr"))
    run("openssl", "x509", "-req", "-in", str(work / "leaf.csr"), "-CA", str(pki.inter_path),
        "-CAkey", str(inter_key), "-set_serial", str(x509.random_serial_number()),
        "-days", "365", "-sha1", "-extfile", str(work / "ext.cnf"), "-extensions", "v3",
        "-out", str(base.cert_path))
    inter_key.unlink()
    leaf = base.cert_path.read_bytes()
    base.chain_path.write_bytes(leaf + pki.inter_path.read_bytes())
    base.combined_path.write_bytes(base.chain_path.read_bytes() + base.key_path.read_bytes())
    return Issued(base.cert_path, base.key_path, base.chain_path, base.combined_path,
                  x509.load_pem_x509_certificate(leaf))


class LoadBalancer(LabService):
    """Common part: certificate, addresses, ports. Subclasses write the config and run it."""

    kind = "lb"
    http_port = 80
    https_port = 443

    def __init__(self, ns: Namespace | int, workdir: Path, spec: LbSpec, *,
                 pki: Pki | None = None) -> None:
        super().__init__(ns, workdir)
        self.spec = spec
        self._pki = pki
        self.issued: Issued | None = None

    # -- certificate -----------------------------------------------------------------------
    @property
    def pki(self) -> Pki:
        if self._pki is None:
            self._pki = Pki.create(self.workdir / "pki")
        return self._pki

    @property
    def ca_path(self) -> Path:
        """The lab root: what a client trusts (the site's CA bundle)."""
        return self.pki.root_path

    @property
    def served_chain(self) -> bool:
        return not (self.spec.missing_intermediate or self.spec.cert in
                    ("no-intermediate", "self-signed"))

    @property
    def chain_path(self) -> Path:
        """The PEM the server sends: leaf + intermediate, or only the leaf."""
        assert self.issued
        return self.issued.chain_path if self.served_chain else self.issued.cert_path

    @property
    def key_path(self) -> Path:
        assert self.issued
        return self.issued.key_path

    def _issue(self) -> None:
        self.issued = issue_lb_cert(self.pki, f"{self.kind}-{self.ns.index}-{self.spec.cert}",
                                    self.spec.domain, self.spec.cert, self.spec.extra_names)

    @property
    def weak(self) -> bool:
        return self.spec.cert in WEAK

    def listen(self, port: int) -> list[str]:
        return [f"{self.ipv4}:{port}", f"[{self.ipv6}]:{port}", f"127.0.0.1:{port}"]

    @property
    def conf_dir(self) -> Path:
        return self.workdir / self.kind


class NginxLb(LoadBalancer):
    """nginx 1.22 (``nginx-light``): ``daemon off``, everything under ``workdir/nginx``."""

    kind = "nginx"
    short = "nginx"

    @property
    def conf_path(self) -> Path:
        return self.conf_dir / "nginx.conf"

    def _headers(self, *, proto: str, websocket: bool) -> list[str]:
        s = self.spec
        out = ["proxy_http_version 1.1;", "proxy_read_timeout 3600s;"]
        if not s.rewrite_host:
            out.append("proxy_set_header Host $host;")
        if not s.no_xff:
            out.append("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;")
        if not s.drop_xfp:
            out.append(f"proxy_set_header X-Forwarded-Proto {proto};")
        if websocket and not s.no_websocket:
            out += ["proxy_set_header Upgrade $http_upgrade;",
                    "proxy_set_header Connection $connection_upgrade;"]
        else:
            out.append('proxy_set_header Connection "";')
        return out

    @staticmethod
    def _upstream(name: str, backends: Sequence[Backend]) -> str:
        servers = "\n".join(f"        server {b.hostport};" for b in backends)
        return f"    upstream {name} {{\n{servers}\n    }}\n"

    def _location(self, upstream: str, backends: Sequence[Backend], *, proto: str,
                  websocket: bool) -> str:
        scheme = "https" if backends and backends[0].tls else "http"
        lines = [f"proxy_pass {scheme}://{upstream};",
                 *self._headers(proto=proto, websocket=websocket)]
        if scheme == "https":
            lines += ["proxy_ssl_verify off;", "proxy_ssl_server_name on;",
                      "proxy_ssl_name $host;"]
        body = "\n".join(f"            {ln}" for ln in lines)
        return f"        location / {{\n{body}\n        }}\n"

    def config_text(self) -> str:
        s, d = self.spec, self.conf_dir
        if not s.app:
            raise LabError("LbSpec.app needs at least one backend")
        tls = [f"ssl_certificate {self.chain_path};", f"ssl_certificate_key {self.key_path};",
               "ssl_protocols TLSv1.2 TLSv1.3;"]
        if self.weak:
            tls.append("ssl_ciphers DEFAULT:@SECLEVEL=0;")
        tls_lines = "\n".join(f"        {t}" for t in tls)
        listen80 = "\n".join(f"        listen {a};" for a in self.listen(80))
        listen443 = "\n".join(f"        listen {a} ssl;" for a in self.listen(443))
        if s.no_redirect:
            plain = self._location("rs_app", s.app, proto="http", websocket=False)
        else:
            plain = "        return 301 https://$host$request_uri;\n"
        return f"""user root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server_names_hash_bucket_size 128;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
{self._upstream("rs_app", s.app)}{self._upstream("rs_realtime", s.rt_backends)}
    server {{
{listen80}
        server_name _;
{plain}    }}
    server {{
{listen443}
        server_name _;
{tls_lines}
{self._location("rs_app", s.app, proto="https", websocket=False)}    }}
    server {{
{listen443}
        server_name {s.rt_name};
{tls_lines}
{self._location("rs_realtime", s.rt_backends, proto="https", websocket=True)}    }}
}}
"""

    def _start(self) -> None:
        self._issue()
        (self.conf_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.config_text())
        base = ["nginx", "-e", str(self.conf_dir / "error.log"), "-p", f"{self.conf_dir}/",
                "-c", str(self.conf_path)]
        test = self.ns.run([*base, "-t"], check=False)
        if test.returncode != 0:
            raise LabError(f"nginx -t failed: {test.stderr}")
        proc = self.popen(base, "nginx.out")
        self.wait_tcp(443, proc, "nginx.out")
        self.wait_tcp(80, proc, "nginx.out")


class HaproxyLb(LoadBalancer):
    """HAProxy 2.6 (``haproxy -db -f cfg``): leaf + chain + key in one PEM."""

    kind = "haproxy"
    short = "haproxy"

    @property
    def conf_path(self) -> Path:
        return self.conf_dir / "haproxy.cfg"

    @property
    def pem_path(self) -> Path:
        """Leaf (+ intermediate unless missing) + key: HAProxy's ``crt``."""
        return self.conf_dir / "lb.pem"

    def _write_pem(self) -> None:
        assert self.issued
        self.pem_path.write_bytes(self.chain_path.read_bytes() + self.key_path.read_bytes())
        self.pem_path.chmod(0o600)

    @staticmethod
    def _servers(prefix: str, backends: Sequence[Backend]) -> str:
        lines = []
        for i, b in enumerate(backends):
            tls = " ssl verify none sni req.hdr(host),field(1,:)" if b.tls else ""
            lines.append(f"    server {prefix}{i} {b.hostport}{tls}")
        return "\n".join(lines)

    def config_text(self) -> str:
        s = self.spec
        if not s.app:
            raise LabError("LbSpec.app needs at least one backend")
        ciphers = "    ssl-default-bind-ciphers DEFAULT:@SECLEVEL=0\n" if self.weak else ""
        bind80 = "\n".join(f"    bind {a}" for a in self.listen(80))
        bind443 = "\n".join(f"    bind {a} ssl crt {self.pem_path}" for a in self.listen(443))
        fwd = "" if s.no_xff else "    option forwardfor\n"
        if s.no_redirect:
            plain = f"{fwd}    default_backend app\n"
        else:
            plain = "    http-request redirect scheme https code 301\n"
        xfp = "" if s.drop_xfp else "    http-request set-header X-Forwarded-Proto https\n"
        app_host = "    http-request set-header Host rs_app\n" if s.rewrite_host else ""
        rt_host = "    http-request set-header Host rs_realtime\n" if s.rewrite_host else ""
        no_ws = ("    http-request del-header Upgrade\n    http-request del-header Connection\n"
                 if s.no_websocket else "")
        return f"""global
    maxconn 512
    log stdout format raw local0 info
    ssl-default-bind-options ssl-min-ver TLSv1.2
{ciphers}
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h

frontend http_in
{bind80}
{plain}
frontend https_in
{bind443}
{fwd}{xfp}    use_backend realtime if {{ req.hdr(host),field(1,:),lower -m str {s.rt_name} }}
    default_backend app

backend app
{app_host}{self._servers("app", s.app)}

backend realtime
{rt_host}{no_ws}{self._servers("rt", s.rt_backends)}
"""

    def _start(self) -> None:
        self._issue()
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self._write_pem()
        self.conf_path.write_text(self.config_text())
        env: list[str] = []
        if self.weak:
            # HAProxy loads the certificate before ``ssl-default-bind-ciphers`` can lower the
            # security level, so lower OpenSSL's system default for this process only.
            cnf = self.conf_dir / "openssl-seclevel0.cnf"
            cnf.write_text(_OPENSSL_SECLEVEL0)
            env = ["env", f"OPENSSL_CONF={cnf}"]
        test = self.ns.run([*env, "haproxy", "-c", "-f", str(self.conf_path)], check=False)
        if test.returncode != 0:
            raise LabError(f"haproxy -c failed: {test.stdout}{test.stderr}")
        proc = self.popen([*env, "haproxy", "-db", "-f", str(self.conf_path)], "haproxy.out")
        self.wait_tcp(443, proc, "haproxy.out")
        self.wait_tcp(80, proc, "haproxy.out")


_OPENSSL_SECLEVEL0 = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
CipherString = DEFAULT:@SECLEVEL=0
MinProtocol = TLSv1.2
"""

LB_KINDS = {"nginx": NginxLb, "haproxy": HaproxyLb}
