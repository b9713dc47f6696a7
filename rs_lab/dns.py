"""The lab's authoritative DNS: BIND 9 in its own namespace, serving a zone built from a spec.

>>> spec = ZoneSpec("rs.lab", lb=["10.213.0.101", "fd00:213::101"],
...                 mail=["10.213.0.20"], dkim_selector="rs", dkim_public_key=pub)
>>> with DnsServer(100, workdir, spec) as dns:           # or DnsServer(Namespace(...), ...)
...     resolver = dns.resolver()                         # dnspython, configure=False
...     resolver.resolve("anything.rs.lab", "A")

BIND gives real wildcard semantics (``../shared/LAB.md``, "DNS"): ``*`` never shadows a name that
exists, and without a wildcard an unknown name is NXDOMAIN with the SOA. named runs as
``named -g -n 1 -u bind -c named.conf`` with ``controls { };``, recursion off, listening only on
the namespace's lab addresses and its loopback, UDP and TCP port 53.
"""

from __future__ import annotations

import base64
import ipaddress
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rs_lab.netns import LabError, Namespace
from rs_lab.service import LabService

if TYPE_CHECKING:
    import dns.resolver
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

# Predetermined subdomains of R-Service (REQUIREMENTS.md, "Name service"): served by the wildcard
# unless ``ZoneSpec.explicit_predetermined`` or an override says otherwise.
PREDETERMINED = ("api", "graphql", "oauth", "assets0", "assets1", "assets2", "assets3",
                 "realtime", "io")

Addresses = str | Sequence[str]


def _addrs(value: Addresses | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def dkim_txt(public_key: object, key_type: str = "rsa") -> str:
    """The DKIM TXT value ``v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>``.

    ``public_key`` is a ``cryptography`` public or private key, PEM bytes/str of either, or the
    base64 ``p=`` value itself.
    """
    from cryptography.hazmat.primitives import serialization

    key = public_key
    if isinstance(key, (bytes, str)) and "-----BEGIN" in (key.decode() if isinstance(key, bytes)
                                                          else key):
        pem = key.encode() if isinstance(key, str) else key
        key = (serialization.load_pem_private_key(pem, None) if b"PRIVATE" in pem
               else serialization.load_pem_public_key(pem))
    if isinstance(key, (bytes, str)):
        p = key.decode() if isinstance(key, bytes) else key
    else:
        if hasattr(key, "public_key"):
            key = key.public_key()
        der = cast("PublicKeyTypes", key).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        p = base64.b64encode(der).decode()
    return f"v=DKIM1; k={key_type}; p={p}"


def txt_rdata(value: str, chunk: int = 255) -> str:
    """A TXT rdata in zone-file syntax: ``value`` split into quoted strings of <= ``chunk``
    bytes."""
    data = value.encode()
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [b""]
    quoted = ['"' + p.decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts]
    return "( " + " ".join(quoted) + " )" if len(quoted) > 1 else quoted[0]


@dataclass
class ZoneSpec:
    """What the lab zone says. Names are relative to ``domain`` (``"@"`` = apex, ``"*"`` =
    wildcard) or absolute inside it.

    * ``lb``: the load balancer's addresses (A and AAAA by family) for the apex and the wildcard.
    * ``overrides``: name → address(es), or ``None`` to drop the name: ``{"api": "10.213.0.9"}``
      makes ``api`` point elsewhere (it then shadows the wildcard, also for AAAA → NODATA);
      ``{"*": None}`` removes the wildcard (unknown names become NXDOMAIN); ``{"@": None}`` leaves
      the apex without addresses.
    * ``explicit_predetermined``: give ``PREDETERMINED`` names their own records (pointing at
      ``lb``) instead of relying on the wildcard — what a site without wildcard would need.
    * ``mail``: address(es) of the mail server, published as ``mx.<domain>``; ``mx_names`` get
      ``MX 10 mx.<domain>.`` (apex and ``mail.<domain>`` by default; empty → no MX at all).
    * ``spf``: TXT at ``spf_names`` (``None`` → no SPF record).
    * ``dkim_selector`` + ``dkim_public_key`` (anything :func:`dkim_txt` takes, or a full TXT
      value starting ``v=DKIM1``): TXT at ``<selector>._domainkey.<dkim_domain>`` split into
      <= 255-byte strings.
    * ``hosts``: lab host names → address(es), e.g. ``{"app1": ["10.213.0.11", "fd00:213::11"]}``.
    * ``extra``: raw zone-file lines appended verbatim.
    * ``ptr``: address → name(s) (absolute), the reverse records: the server is then also
      authoritative for ``in-addr.arpa`` / ``ip6.arpa`` (a zone per family that has one), so a
      PTR it does not list is NXDOMAIN, as a real reverse zone answers.
    """

    domain: str = "rs.lab"
    lb: Addresses = ()
    overrides: Mapping[str, Addresses | None] = field(default_factory=dict)
    explicit_predetermined: bool = False
    mail: Addresses = ()
    mx_names: Sequence[str] = ("@", "mail")
    spf: str | None = "v=spf1 mx -all"
    spf_names: Sequence[str] = ("@", "mail")
    dkim_selector: str | None = None
    dkim_public_key: object = None
    dkim_domain: str | None = None
    hosts: Mapping[str, Addresses] = field(default_factory=dict)
    ttl: int = 60
    extra: Sequence[str] = ()
    ptr: Mapping[str, Addresses] = field(default_factory=dict)

    @property
    def mail_domain(self) -> str:
        return f"mail.{self.domain}"

    def rel(self, name: str) -> str:
        """``name`` relative to the zone (``@`` for the apex)."""
        name = name.rstrip(".")
        if name in ("@", "", self.domain):
            return "@"
        if name.endswith("." + self.domain):
            return name[: -len(self.domain) - 1]
        return name

    def zone_text(self, ns_addresses: Sequence[str]) -> str:
        d = self.domain
        lines = [f"$ORIGIN {d}.", f"$TTL {self.ttl}",
                 f"@ IN SOA ns1.{d}. hostmaster.{d}. 1 3600 600 86400 {self.ttl}",
                 f"@ IN NS ns1.{d}."]
        records: dict[str, list[str]] = {}

        def add_addrs(name: str, addrs: Sequence[str]) -> None:
            for a in addrs:
                rtype = "AAAA" if ipaddress.ip_address(a).version == 6 else "A"
                records.setdefault(name, []).append(f"{rtype} {a}")

        lb = _addrs(self.lb)
        overrides = {self.rel(k): v for k, v in self.overrides.items()}
        wanted: dict[str, list[str]] = {"@": lb, "*": lb}
        if self.explicit_predetermined:
            wanted.update({n: lb for n in PREDETERMINED})
        for name, value in overrides.items():
            wanted[name] = _addrs(value)
        wanted["ns1"] = wanted.get("ns1", list(ns_addresses))
        for name, value in self.hosts.items():
            wanted[self.rel(name)] = _addrs(value)
        mail = _addrs(self.mail)
        if mail and "mx" not in wanted:
            wanted["mx"] = mail
        for name, addrs in wanted.items():
            add_addrs(name, addrs)
        for name in self.mx_names:
            records.setdefault(self.rel(name), []).append(f"MX 10 mx.{d}.")
        if self.spf is not None:
            for name in self.spf_names:
                records.setdefault(self.rel(name), []).append(f"TXT {txt_rdata(self.spf)}")
        if self.dkim_selector and self.dkim_public_key is not None:
            value = (self.dkim_public_key if isinstance(self.dkim_public_key, str)
                     and self.dkim_public_key.startswith("v=DKIM1")
                     else dkim_txt(self.dkim_public_key))
            base = self.rel(self.dkim_domain or d)
            owner = f"{self.dkim_selector}._domainkey" + ("" if base == "@" else f".{base}")
            records.setdefault(owner, []).append(f"TXT {txt_rdata(value)}")
        for name, rrs in records.items():
            lines += [f"{name} IN {rr}" for rr in rrs]
        lines += list(self.extra)
        return "\n".join(lines) + "\n"

    def reverse_zones(self) -> dict[str, str]:
        """The reverse zones of ``ptr``: ``{"ip6.arpa": zone text, …}`` (empty without PTRs)."""
        records: dict[str, list[str]] = {}
        for address, names in self.ptr.items():
            ip = ipaddress.ip_address(address)
            zone = "ip6.arpa" if ip.version == 6 else "in-addr.arpa"
            records.setdefault(zone, []).extend(
                f"{ip.reverse_pointer}. IN PTR {n.rstrip('.')}." for n in _addrs(names))
        d = self.domain
        return {zone: "\n".join([f"$ORIGIN {zone}.", f"$TTL {self.ttl}",
                                 f"@ IN SOA ns1.{d}. hostmaster.{d}. 1 3600 600 86400 {self.ttl}",
                                 f"@ IN NS ns1.{d}.", *lines]) + "\n"
                for zone, lines in records.items()}


class DnsServer(LabService):
    """BIND 9 authoritative for ``spec.domain``; ``ipv4``/``ipv6`` are what resolvers point at.

    ``ns`` is a :class:`Namespace` (borrowed) or an index (a namespace ``dns<index>`` is made and
    destroyed). Config and zone go to ``workdir/named/``; named runs as ``bind`` when that user
    can reach the work dir (every parent needs o+x), else as root (``self.user`` says which).
    ``reload(spec)`` rewrites the zone and restarts named.
    """

    short = "dns"

    def __init__(self, ns: Namespace | int, workdir: Path, spec: ZoneSpec | None = None, *,
                 user: str | None = "bind") -> None:
        super().__init__(ns, workdir)
        self.spec = spec or ZoneSpec()
        self.user = user
        self.port = 53

    @property
    def zonedir(self) -> Path:
        return self.workdir / "named"

    @property
    def conf_path(self) -> Path:
        return self.zonedir / "named.conf"

    @property
    def zone_path(self) -> Path:
        return self.zonedir / f"{self.spec.domain}.zone"

    def config_text(self) -> str:
        z = self.zonedir
        return f"""options {{
    directory "{z}";
    pid-file none;
    session-keyfile none;
    managed-keys-directory "{z}";
    listen-on port 53 {{ {self.ipv4}; 127.0.0.1; }};
    listen-on-v6 port 53 {{ {self.ipv6}; ::1; }};
    recursion no;
    allow-query {{ any; }};
    dnssec-validation no;
    notify no;
    minimal-responses no;
}};
controls {{ }};
zone "{self.spec.domain}" {{ type primary; file "{self.zone_path}"; }};
""" + "".join(f'zone "{zone}" {{ type primary; file "{self.zonedir / zone}.zone"; }};\n'
              for zone in self.spec.reverse_zones())

    def write(self) -> None:
        self.zonedir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.config_text())
        self.zone_path.write_text(self.spec.zone_text([self.ipv4, self.ipv6]))
        zones = self.spec.reverse_zones()
        for zone, text in zones.items():
            (self.zonedir / f"{zone}.zone").write_text(text)
        if self.user and not _user_can_read(self.user, self.conf_path):
            self.user = None
        if self.user:
            shutil.chown(self.zonedir, self.user, self.user)
            for f in self.zonedir.iterdir():
                shutil.chown(f, self.user, self.user)
        for zone, path in [(self.spec.domain, self.zone_path),
                           *((z, self.zonedir / f"{z}.zone") for z in zones)]:
            check = subprocess.run(["named-checkzone", zone, str(path)], capture_output=True,
                                   text=True)
            if check.returncode != 0:
                raise LabError(f"zone {zone} does not load: {check.stdout}{check.stderr}")

    def _start(self) -> None:
        self.write()
        argv = ["named", "-g", "-n", "1", "-c", str(self.conf_path)]
        if self.user:
            argv[4:4] = ["-u", self.user]
        proc = self.popen(argv, "named.log")
        self._wait_answer(proc)

    def _wait_answer(self, proc: subprocess.Popen[bytes]) -> None:
        import time

        import dns.exception
        import dns.message
        import dns.query

        deadline = time.monotonic() + 10
        while True:
            self.check_alive(proc, "named.log")
            q = dns.message.make_query(f"{self.spec.domain}.", "SOA")
            try:
                r = dns.query.udp(q, self.ipv4, timeout=0.2)
                if r.answer:
                    dns.query.tcp(q, self.ipv4, timeout=1)
                    return
            except (dns.exception.Timeout, OSError):
                pass
            if time.monotonic() > deadline:
                raise LabError(f"named in {self.ns.name} does not answer SOA {self.spec.domain}")
            time.sleep(0.02)

    def reload(self, spec: ZoneSpec) -> None:
        """Serve ``spec`` instead (restarts named; the namespace stays)."""
        from rs_lab.netns import end_pids

        end_pids([p.pid for p in self.procs])
        for p in self.procs:
            p.wait(timeout=5)
        self.procs.clear()
        self.spec = spec
        self._start()

    def resolver(self) -> dns.resolver.Resolver:
        """A dnspython resolver that asks only this server (never the system's)."""
        import dns.resolver

        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [self.ipv4]
        r.lifetime = 5
        r.timeout = 2
        return r


def _user_can_read(user: str, path: Path) -> bool:
    proc = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                           "test", "-x", str(path.parent)], capture_output=True)
    return proc.returncode == 0
