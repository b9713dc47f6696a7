"""A lab replica of the VoIP complex of seeds/001: the eight servers of
``examples/voip/site-fixed.yaml`` as lab hosts, with the services the document gives each type.

Every host is CentOS Linux 7 x86_64 to ``/etc/os-release`` (the file CentOS 7 ships) and is
reached on its lab IPv6 address; names live under ``rcsnet.lab`` (the document's ``rcsnet.ru``
with a lab suffix) in the lab's BIND, which serves the AAAA of every server's name, the PTR of
every server's address (ip6.arpa) and the floating names (AAAA for ``couch.db``, A for ``pbx``
and ``self``, the families the document gives them).

======  ===================================================================================
type    what runs (inside the host: its processes are what ``ps`` shows there)
======  ===================================================================================
db      CouchDB as a **stand-in** (``rs_lab.couchdb_standin``: CouchDB 3.3.3's documented
        ``/`` and ``/_scheduler/docs`` on 5984, with a login) in front of a real PouchDB
        Server on ``[::]:5985`` with its data in ``/var/lib/couchdb`` — CouchDB's HTTP API
        and real replication, but not Apache CouchDB, which cannot be installed here
        (``rs_lab.couchdb``); the two PouchDB Servers replicate ``accounts`` and
        ``system_config`` both ways, continuously, as ``_replicator`` documents.
        RabbitMQ 3.10 (Debian's, real), the two db hosts clustered (``rabbit@couch1``,
        ``rabbit@couch2``: its default node names, found in ``/etc/hosts``; classic peer
        discovery), AMQP on 5672 and the management API on ``[::]:15672``, user ``voip``.
app     Kazoo's two Erlang VMs as **stand-ins** (Kazoo cannot be installed here): real
        ``erl`` nodes named as Kazoo names them — ``kazoo_apps@<fqdn>`` on kazoo1 (Kazoo 4),
        ``whistle_apps@<fqdn>`` on kazoo2 (Kazoo 3: the catalogue accepts either) and
        ``ecallmgr@<fqdn>`` — running no Kazoo code.
sip     FreeSWITCH as **stand-ins** (not installable here): a process named ``freeswitch``
        (a copy of sleep, for the process check's comm) and, for what ecallmgr connects to,
        mod_kazoo's Erlang endpoint — a real Erlang node ``freeswitch@<fqdn>`` listening on
        8031 (IPv6 and IPv4) and registered with the host's epmd on 4369.
web     nginx 1.22 (real) on port 80.
======  ===================================================================================

The floating addresses are lab addresses of their own (leased indices no host uses), each
added to the first host of its pair. Everything a broken variant changes has a method here
that undoes it too (``stop``/``start`` a process by key, ``block``/``unblock`` a port,
``hold``/``release`` a floating address, ``set_os``, ``stop_rabbit``/``start_rabbit``,
``set_couchdb_version``, ``forget_replications``/``replicate_from``).

>>> replica = VoipReplica.up(host_lab, lab_lease, work)
>>> site = replica.write_site(tmp_path)          # site-fixed.yaml's shape, lab addresses
>>> replica.down()                               # the DNS server; the hosts are host_lab's
"""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import json
import shlex
import socket
import sys
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import requests
import yaml

from rs_lab.couchdb import COUCH_ROOT
from rs_lab.dns import DnsServer, ZoneSpec
from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.netns import LabError, addr4, addr6
from rs_lab.service import REPO

__all__ = ["CENTOS7", "CENTOS8", "COUCHDB_VERSION", "COUCH_LOGIN", "DOMAIN", "RABBIT_PASSWORD",
           "SHAPE", "VoipReplica", "lab_name"]

FIXED = REPO / "examples" / "voip" / "site-fixed.yaml"
SHAPE: dict[str, Any] = yaml.safe_load(FIXED.read_text())
DOMAIN = "rcsnet.lab"
RABBIT_USER = "voip"
RABBIT_PASSWORD = "lab-voip-rabbit-pw"
COOKIE = "RSLABVOIPCOOKIE"
DATABASES = ("accounts", "system_config")
COUCHDB_VERSION = "3.3.3"   # what the CouchDB stand-in claims
COUCH_LOGIN = ("admin", "lab-voip-couch-pw")
POUCH_PORT = 5985
HOST_LIB = "/usr/local/lib/rs-lab-python"  # where a host runs rs_lab code from (its own copy)


CENTOS7 = os_release("centos", "7")  # /etc/os-release as CentOS Linux 7 ships it
CENTOS8 = os_release("centos", "8")  # … and CentOS Linux 8, ended 2021-12-31


def lab_name(name: str) -> str:
    """The document's name under the lab domain: ``couch1.db.rcsnet.ru`` → ``….rcsnet.lab``."""
    return name.removesuffix(SHAPE["domain"]) + DOMAIN


RABBIT_DIR = "/var/lib/rs-rabbit"
NGINX = """\
daemon off;
pid /run/rs-nginx.pid;
error_log /tmp/rs-nginx-error.log;
events {}
http {
  access_log off;
  server { listen 80; listen [::]:80; return 200 "VoIP web\\n"; }
}
"""


def _rabbit_env(host: LabHost) -> str:
    return " ".join(f"{k}={v}" for k, v in {
        "HOME": RABBIT_DIR, "RABBITMQ_CONF_ENV_FILE": "/dev/null",
        "RABBITMQ_NODENAME": f"rabbit@{host.name}",  # RabbitMQ's default: the short name
        "RABBITMQ_CONFIG_FILE": f"{RABBIT_DIR}/rabbitmq.conf",
        "RABBITMQ_MNESIA_BASE": f"{RABBIT_DIR}/mnesia", "RABBITMQ_LOG_BASE": f"{RABBIT_DIR}/log",
        "RABBITMQ_ENABLED_PLUGINS_FILE": f"{RABBIT_DIR}/enabled_plugins",
        "RABBITMQ_FEATURE_FLAGS_FILE": f"{RABBIT_DIR}/feature_flags",
        "LANG": "C.UTF-8"}.items())


def _rabbit_conf(peers: Iterable[str]) -> str:
    lines = ["listeners.tcp.default = 5672", "management.tcp.port = 15672",
             "management.tcp.ip = ::", f"default_user = {RABBIT_USER}",
             f"default_pass = {RABBIT_PASSWORD}", "default_user_tags.administrator = true",
             "loopback_users = none", "log.file.level = info"]
    names = list(peers)
    if names:
        lines.append("cluster_formation.peer_discovery_backend = classic_config")
        lines += [f"cluster_formation.classic_config.nodes.{n} = {name}"
                  for n, name in enumerate(names, 1)]
    return "\n".join(lines) + "\n"


def _erl(node: str, *extra: str) -> str:
    return shlex.join(["erl", "-noinput", "-name", node, "-setcookie", COOKIE, *extra])


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # lab addresses only, never a proxy
    return session


def _wait(what: str, ok: Callable[[], bool], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not ok():
        if time.monotonic() > deadline:
            raise LabError(f"VoIP replica: {what} did not come up in {seconds:.0f} s")
        time.sleep(0.25)


def _answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


class VoipReplica:
    """The replica (see the module docstring). ``hosts`` by the site's host names;
    ``floating`` label → lab address; ``holders`` label → the hosts holding it now."""

    def __init__(self, lab: HostLab, hosts: Mapping[str, LabHost], dns: DnsServer,
                 floating: Mapping[str, str]) -> None:
        self.lab = lab
        self.hosts = dict(hosts)
        self.dns = dns
        self.floating = dict(floating)
        self.holders: dict[str, list[str]] = {}
        self.pids: dict[str, str] = {}
        self.commands: dict[str, tuple[LabHost, str]] = {}
        self._generation = 0

    # -- bring-up ------------------------------------------------------------------------------
    @classmethod
    def up(cls, lab: HostLab, lease: Lease, work: Path) -> VoipReplica:
        """Every host, service and record of the replica; raises LabError if one does not
        come up (the hosts are ``lab``'s, down with it; call :meth:`down` for the rest)."""
        specs = [HostSpec(name, lease.take(name), CENTOS7,
                          extra_files={"/etc/redhat-release":
                                       "CentOS Linux release 7.9.2009 (Core)\n"})
                 for name in SHAPE["hosts"]]
        hosts = {h.name: h for h in lab.add_many(specs)}
        floating = {}
        for label, body in SHAPE["floating_addresses"].items():
            index = lease.take(f"floating-{label}")
            v6 = ipaddress.ip_address(body["address"]).version == 6
            floating[label] = addr6(index) if v6 else addr4(index)
        dns = DnsServer(lease.take("dns"), work / "dns", ZoneSpec())
        replica = cls(lab, hosts, dns, floating)
        dns.spec = replica.zone()
        dns.start()
        try:
            replica._services()
        except BaseException:
            dns.stop()
            raise
        return replica

    def down(self) -> None:
        """Stop the DNS server (the hosts, and all that runs in them, are the HostLab's)."""
        self.dns.stop()

    def role(self, role: str) -> list[LabHost]:
        return [self.hosts[n] for n, body in SHAPE["hosts"].items() if role in body["roles"]]

    def fqdn(self, name: str) -> str:
        return lab_name(SHAPE["hosts"][name]["fqdn"])

    def _services(self) -> None:
        # every server's names in every server's /etc/hosts, as a cluster's hosts often list
        # them: Erlang finds its peers' (rabbit@couch1) there, never at a resolver
        lines = "".join(f"{addr}\t{self.fqdn(name)} {name}\n" for name, host in self.hosts.items()
                        for addr in (host.ipv4, host.ipv6))
        for host in self.hosts.values():
            host.run("cat >> /etc/hosts", input=lines, check=True)
        db1, db2 = self.role("db")
        self._rabbit_files(db1, [])
        self._rabbit_files(db2, [f"rabbit@{db1.name}", f"rabbit@{db2.name}"])
        self.start(f"{db1.name}:rabbit")  # the first node boots while the rest comes up
        for host in (db1, db2):
            self._couchdb(host)
        for host, apps in zip(self.role("app"), ("kazoo_apps", "whistle_apps"), strict=True):
            fqdn = self.fqdn(host.name)
            self._define(host, "apps", "exec " + _erl(f"{apps}@{fqdn}"))
            self._define(host, "ecallmgr", "exec " + _erl(f"ecallmgr@{fqdn}"))
            self.start(f"{host.name}:apps")
            self.start(f"{host.name}:ecallmgr")
        for host in self.role("sip"):
            host.run("cp /bin/sleep /usr/local/bin/freeswitch", check=True)
            self._define(host, "freeswitch", "exec /usr/local/bin/freeswitch infinity")
            self._define(host, "mod_kazoo", "exec " + _erl(
                f"freeswitch@{self.fqdn(host.name)}", "-proto_dist", "inet6_tcp",
                "-kernel", "inet_dist_listen_min", "8031",
                "-kernel", "inet_dist_listen_max", "8031"))
            self.start(f"{host.name}:freeswitch")
            self.start(f"{host.name}:mod_kazoo")
        for host in self.role("web"):
            host.run("mkdir -p /etc/rs-nginx && cat > /etc/rs-nginx/nginx.conf", input=NGINX,
                     check=True)
            self._define(host, "nginx", "exec nginx -c /etc/rs-nginx/nginx.conf")
            self.start(f"{host.name}:nginx")
        for label, body in SHAPE["floating_addresses"].items():
            self.hold(label, body["hosts"][0])
        self._couch_pair(db1, db2)
        self._rabbit_cluster(db1, db2)
        for host in self.role("sip"):
            for port in (4369, 8031):
                _wait(f"{host.name}: port {port}", partial(_answers, host.ipv6, port))
        for host in self.role("web"):
            _wait(f"{host.name}: nginx", partial(_answers, host.ipv6, 80))

    def _couchdb(self, host: LabHost, version: str = COUCHDB_VERSION) -> None:
        """PouchDB Server on ``[::]:5985`` (data in /var/lib/couchdb) and, on 5984, the CouchDB
        stand-in in front of it claiming ``version`` (``rs_lab.couchdb_standin``), started."""
        pouch = str(COUCH_ROOT / "node_modules/pouchdb-server/bin/pouchdb-server")
        host.run("mkdir -p /var/lib/couchdb /etc/couchdb && "
                 "cat > /var/lib/couchdb/local.json", check=True,
                 input='{"log": {"file": "/var/lib/couchdb/couch.log", "level": "info"}}')
        self._define(host, "pouchdb", "exec node " + shlex.join([
            pouch, "--host", "::", "--port", str(POUCH_PORT), "--dir", "/var/lib/couchdb",
            "--config", "/var/lib/couchdb/local.json", "--no-color"]))
        self.start(f"{host.name}:pouchdb")
        _wait(f"{host.name}: PouchDB Server", partial(_answers, host.ipv6, POUCH_PORT), 60)
        self._standin(host, version)

    def _standin(self, host: LabHost, version: str) -> None:
        """(Re)start the CouchDB stand-in of ``host`` claiming ``version``."""
        conf = {"port": 5984, "backend_port": POUCH_PORT, "version": version,
                "listen": [host.ipv4, host.ipv6, "127.0.0.1"], "login": list(COUCH_LOGIN),
                "uuid": hashlib.md5(host.name.encode()).hexdigest()}
        host.run("umask 077 && cat > /etc/couchdb/standin.json", input=json.dumps(conf),
                 check=True)
        self._ship_rs_lab(host)
        self._define(host, "couchdb", f"exec env PYTHONPATH={HOST_LIB} PYTHONUNBUFFERED=1 "
                     f"{sys.executable} -m rs_lab.couchdb_standin /etc/couchdb/standin.json")
        self.start(f"{host.name}:couchdb")
        _wait(f"{host.name}: CouchDB stand-in", partial(_answers, host.ipv6, 5984), 30)

    @staticmethod
    def _ship_rs_lab(host: LabHost) -> None:
        """A copy of the ``rs_lab`` package in the host, for the stand-in to run from: a host's
        /tmp is its own tmpfs, so a checkout under /tmp (a CI clone) is not there to import."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(REPO / "rs_lab", arcname="rs_lab",
                    filter=lambda info: None if "__pycache__" in info.name else info)
        host.run(f"mkdir -p {HOST_LIB} && base64 -d | tar -xz -C {HOST_LIB}", check=True,
                 input=base64.b64encode(buf.getvalue()).decode())

    def set_couchdb_version(self, name: str, version: str) -> None:
        """Restart ``name``'s CouchDB stand-in claiming ``version`` (PouchDB stays)."""
        self.stop(f"{name}:couchdb")
        self._standin(self.hosts[name], version)

    def _rabbit_files(self, host: LabHost, peers: list[str]) -> None:
        files = {"rabbitmq.conf": _rabbit_conf(peers), ".erlang.cookie": COOKIE,
                 "enabled_plugins": "[rabbitmq_management].\n"}
        for name, text in files.items():
            host.run(f"mkdir -p {RABBIT_DIR} && cat > {RABBIT_DIR}/{name}", input=text,
                     check=True)
        host.run(f"chmod 400 {RABBIT_DIR}/.erlang.cookie", check=True)
        self._define(host, "rabbit", f"exec env {_rabbit_env(host)} "
                                     "/usr/lib/rabbitmq/bin/rabbitmq-server")

    def _couch_pair(self, db1: LabHost, db2: LabHost) -> None:
        """The databases on both, replicated both ways (continuous ``_replicator`` documents
        on the source, between the PouchDB Servers' own ports, by name), proven by a document
        written on each showing up on the other."""
        for host in (db1, db2):
            for db in DATABASES:
                self.pouch(host, "PUT", f"/{db}")
        for source, target in ((db1, db2), (db2, db1)):
            for db in DATABASES:
                self.replicate(source, target, db, f"{db}-to-{target.name}")
        for source, target in ((db1, db2), (db2, db1)):
            self.pouch(source, "PUT", f"/accounts/written-on-{source.name}", {"on": source.name})
            _wait(f"replication {source.name} → {target.name}",
                  partial(self._has, target, f"/accounts/written-on-{source.name}"), 60)

    def replicate(self, source: LabHost, target: LabHost, db: str, doc_id: str) -> None:
        """A continuous replication of ``db`` from ``source`` to ``target``, a ``_replicator``
        document on ``source``."""
        # by name, as Kazoo's servers name each other (found in /etc/hosts: the IPv6 address):
        # PouchDB Server takes a document with an IPv6 literal ([…]) for ``triggered`` and
        # never sends a request (measured)
        self.pouch(source, "PUT", f"/_replicator/{doc_id}", {
            "source": f"http://{self.fqdn(source.name)}:{POUCH_PORT}/{db}",
            "target": f"http://{self.fqdn(target.name)}:{POUCH_PORT}/{db}", "continuous": True})

    def forget_replications(self, name: str) -> None:
        """Restart ``name``'s PouchDB Server without its ``_replicator`` database (moved
        aside): the replications it sent are gone, the other server's retry and go on. (PouchDB
        Server crashes when a ``_replicator`` document is deleted, or when a replication
        written with ``"retry": false`` fails: measured.)"""
        host = self.hosts[name]
        self.stop(f"{name}:pouchdb")
        self._generation += 1
        host.run(f"mv /var/lib/couchdb/_replicator /var/lib/couchdb/.replicator-"
                 f"{self._generation}", check=True)
        self.start(f"{name}:pouchdb")
        _wait(f"{name}: PouchDB Server", partial(_answers, host.ipv6, POUCH_PORT), 60)

    def replicate_from(self, name: str) -> None:
        """``name``'s server sends its replications again (new documents)."""
        self._generation += 1
        source = self.hosts[name]
        for target in self.role("db"):
            if target is not source:
                for db in DATABASES:
                    self.replicate(source, target, db,
                                   f"{db}-to-{target.name}-{self._generation}")

    def pouch(self, host: LabHost, method: str, path: str, body: object = None) -> Any:
        """One request to the host's PouchDB Server (over IPv6), its JSON answer."""
        with _session() as session:
            resp = session.request(method, f"http://[{host.ipv6}]:{POUCH_PORT}{path}",
                                   json=body, timeout=10)
            resp.raise_for_status()
            return resp.json()

    def _has(self, host: LabHost, path: str) -> bool:
        try:
            self.pouch(host, "GET", path)
        except requests.RequestException:
            return False
        return True

    def rabbit_nodes(self, host: LabHost) -> list[str]:
        """The nodes running as ``host``'s management API lists them (``/api/nodes``)."""
        with _session() as session:
            resp = session.get(f"http://[{host.ipv6}]:15672/api/nodes",
                               auth=(RABBIT_USER, RABBIT_PASSWORD), timeout=5)
            resp.raise_for_status()
            return sorted(n["name"] for n in resp.json() if n.get("running"))

    def _rabbit_up(self, host: LabHost, want: int) -> bool:
        try:
            return len(self.rabbit_nodes(host)) == want
        except (requests.RequestException, ValueError):
            return False

    def _rabbit_cluster(self, db1: LabHost, db2: LabHost) -> None:
        _wait(f"{db1.name}: RabbitMQ", lambda: self._rabbit_up(db1, 1), 120)
        self.start(f"{db2.name}:rabbit")  # joins the running first node as it boots
        _wait("the RabbitMQ cluster", lambda: self._rabbit_up(db1, 2)
              and self._rabbit_up(db2, 2), 120)

    # -- processes -----------------------------------------------------------------------------
    def _define(self, host: LabHost, what: str, command: str) -> None:
        self.commands[f"{host.name}:{what}"] = (host, command)

    def start(self, key: str) -> None:
        """Start the process ``host:what`` in its host (in the background); its PID is kept."""
        host, command = self.commands[key]
        log = f"/tmp/{key.split(':')[1]}.log"
        line = f"nohup sh -c {shlex.quote(command)} </dev/null >{log} 2>&1 & echo $!"
        self.pids[key] = host.run(line, check=True).stdout.strip()

    def stop(self, key: str) -> None:
        """End the process ``host:what`` by the PID it was started with, and wait for it."""
        host, _ = self.commands[key]
        pid = self.pids.pop(key)
        host.run(f"kill {pid}", check=True)
        _wait(f"{key} ending", lambda: host.run(f"kill -0 {pid}").returncode != 0, 20)

    def rabbitmqctl(self, name: str, *args: str) -> None:
        host = self.hosts[name]
        host.run(f"env {_rabbit_env(host)} /usr/lib/rabbitmq/bin/rabbitmqctl "
                 f"-n rabbit@{host.name} {shlex.join(args)}", check=True, timeout=120)

    def stop_rabbit(self, name: str) -> None:
        """Stop the RabbitMQ application of ``name``'s node (its Erlang VM keeps running:
        the process stays, the cluster loses a running node)."""
        self.rabbitmqctl(name, "stop_app")

    def start_rabbit(self, name: str) -> None:
        self.rabbitmqctl(name, "start_app")
        db = self.role("db")
        _wait("the RabbitMQ cluster", lambda: all(self._rabbit_up(h, 2) for h in db), 120)

    # -- network -------------------------------------------------------------------------------
    def hold(self, label: str, name: str) -> None:
        """Add floating address ``label`` to host ``name``."""
        address = self.floating[label]
        v6 = ipaddress.ip_address(address).version == 6
        extra = f"{address}/64 nodad" if v6 else f"{address}/24"
        self.hosts[name].run(f"ip addr add {extra} dev eth0", check=True)
        self.holders.setdefault(label, []).append(name)

    def release(self, label: str, name: str) -> None:
        address = self.floating[label]
        prefix = 64 if ipaddress.ip_address(address).version == 6 else 24
        self.hosts[name].run(f"ip addr del {address}/{prefix} dev eth0", check=True)
        self.holders[label].remove(name)

    def block(self, name: str, port: int) -> None:
        """Drop TCP to ``port`` in host ``name`` (a connect times out: filtered)."""
        rules = ("table inet rsvoip {\n  chain input {\n"
                 "    type filter hook input priority 0; policy accept;\n"
                 f"    tcp dport {port} drop\n  }}\n}}\n")
        self.hosts[name].run("nft -f -", input=rules, check=True)

    def unblock(self, name: str) -> None:
        self.hosts[name].run("nft delete table inet rsvoip", check=True)

    def set_os(self, name: str, os_release: str) -> None:
        self.hosts[name].run("tee /etc/os-release > /usr/lib/os-release", input=os_release,
                             check=True)

    # -- names and the site --------------------------------------------------------------------
    def zone(self, *, no_aaaa: Iterable[str] = (),
             floating_at: Mapping[str, str] | None = None) -> ZoneSpec:
        """The lab zone: every server's AAAA and PTR, the floating names; ``no_aaaa``: hosts
        whose name has its A record (the lab IPv4) but no AAAA; ``floating_at``: label →
        another address for its name."""
        names = {self.fqdn(n): h.ipv4 if n in set(no_aaaa) else h.ipv6
                 for n, h in self.hosts.items()}
        moved = floating_at or {}
        for label, body in SHAPE["floating_addresses"].items():
            names[lab_name(body["name"])] = moved.get(label, self.floating[label])
        return ZoneSpec(DOMAIN, overrides={"*": None, "@": None}, spf=None, mx_names=(),
                        hosts=names, ptr={h.ipv6: self.fqdn(n) for n, h in self.hosts.items()})

    def write_site(self, folder: Path, *, without: Iterable[str] = ()) -> Path:
        """``site-fixed.yaml``'s description with the replica's addresses, names under the lab
        domain, the lab DNS server and the CouchDB and RabbitMQ logins (passwords by file); hosts in
        ``without`` left out. Returns the site file."""
        doc = yaml.safe_load(FIXED.read_text())
        doc["domain"] = DOMAIN
        doc["ssh"] = {"user": "root", "identity_file": str(self.lab.identity_file),
                      "known_hosts": str(self.lab.known_hosts), "connect_timeout": 3,
                      "command_timeout": 30}
        doc["dns"] = {"resolvers": [self.dns.ipv6]}
        for name in without:
            del doc["hosts"][name]
        for name, body in doc["hosts"].items():
            body["address"] = self.hosts[name].ipv6
            body["fqdn"] = lab_name(body["fqdn"])
        for label, body in doc["floating_addresses"].items():
            body["address"] = self.floating[label]
            body["name"] = lab_name(body["name"])
        (folder / "rabbitmq.pass").write_text(RABBIT_PASSWORD + "\n")
        (folder / "couchdb.pass").write_text(COUCH_LOGIN[1] + "\n")
        doc["settings"] = {"COUCHDB_USER": COUCH_LOGIN[0],
                           "COUCHDB_PASSWORD_file": "couchdb.pass",
                           "RABBITMQ_USER": RABBIT_USER,
                           "RABBITMQ_PASSWORD_file": "rabbitmq.pass"}
        site = folder / "site.yaml"
        site.write_text(yaml.safe_dump(doc, sort_keys=False))
        return site
