"""Declarative lab scenarios: a whole R-Service site of real hosts and services, healthy or
broken in exactly one way (an *overlay*), brought up fast and always torn down.

>>> site = Scenario.small().up(workdir)            # or: scripts/lab up small
>>> site.site_file                                  # rs-preflight --site <this>
>>> site.down()
>>> broken = Scenario.small(slot=1).with_overlay("os-rhel8", host="app1").only("hosts", "dns")

What stands where (the ``small`` profile, guide §8.2; REQUIREMENTS.md sizing table):

* **Hosts** (:mod:`rs_lab.hosts`, namespace "VMs" with their own sshd): app1, app2 (app), job1
  (job + search), job2 (job), rt1 (realtime), db1 (db), deploy1 (deploy), all Ubuntu 24.04 with
  ``fs.file-max`` 2097152 and ``vm.max_map_count`` 262144 (runtime and persisted in
  ``/etc/sysctl.d/99-rservice.conf``), nofile 8192/100000 (the LD_PRELOAD shim: the sandbox caps
  the real hard limit at 20000), CPUs / memory / disks per the profile, ``/etc/docker/daemon.json``
  json-file 100m × 10, chrony following the lab NTP server. Plus **store1**, the storage host (not
  an R-Service host, not in the site file).
* **Shared folder**: NFS is not available in this kernel, so the share is an **sshfs** export of
  store1 (``fuse.sshfs``, a real network filesystem; :mod:`rs_lab.share`), mounted at
  ``/mnt/rs-share`` on app1, app2, job1, job2.
* **DNS**: BIND for ``rs.lab``: apex + wildcard → the LB, every host by name, ``db1``/``db1-reader``
  → PostgreSQL, ``mail``/``smtp``/``imap``/``mx`` → the mail server, MX, SPF, and a DKIM TXT made
  from the key the scenario puts into ``.env`` (``MAIL_DKIM_PRIVATE_KEY``).
* **Load balancer**: nginx (HAProxy with the ``lb-haproxy`` overlay) in its own namespace, TLS with
  the lab root → intermediate → ``*.rs.lab`` + ``rs.lab`` leaf; backends app1, app2 (app) and rt1
  (realtime) on **443 with TLS** (``load_balancer.backend_port``; ``Scenario.lb_backends`` and
  ``lb_declare`` change the port and protocol per role and what the site file says, and
  :meth:`LabSite.restart_lb` applies them to a site that is up). Before installation nothing
  answers there (RS-PORT-02 wants those ports free; the pre-phase LB checks start their own
  listener): with ``phase: post`` (or ``echo=True``, or :meth:`LabSite.echo_backends`) the
  header-echo backend (:mod:`rs_lab.echo`) runs in the app and realtime hosts' network namespaces
  on 443, standing in for R-Service's nginx and faye.
* **Mail**: Postfix + Dovecot (:mod:`rs_lab.mail`) in its own namespace: IMAP 993 for clacks
  (``rs@rs.lab``, INBOX + ARCHIVE), SMTP 587 STARTTLS + AUTH for ``noreply@rs.lab``.
* **PostgreSQL 18** writer **in db1's network namespace** (so db1's nftables rules apply to it) and
  a streaming replica as the reader in a namespace of its own (:mod:`rs_lab.postgres`), TLS with a
  lab certificate for ``db1.rs.lab``; ``DB_SSL_MODE=VERIFY_IDENTITY``.
* **OpenSearch STAND-IN** (:mod:`rs_lab.opensearch_standin`, not OpenSearch: none can be installed
  here) on **job1's address**, port 9200: ``ELASTICSEARCH_URLS=http://job1.rs.lab:9200``.
* **NTP**: chronyd at stratum 8 in its own namespace (:mod:`rs_lab.ntp`).
* **Docker**: dockerd (Debian's 20.10, vfs) in app/job/realtime hosts, about 75 MB each
  (``docker=False`` leaves it out), with ``daemon.json`` default-ulimits nofile 8192/100000 and
  Docker Compose v2 as CLI plugin (Debian 13's 2.26.1, unpacked by ``scripts/setup-compose``;
  Debian 12 has none). No images and no containers: pulls cannot work here.
* Redis, RabbitMQ and memcached are **not** run (nothing checks them before installation);
  ``REDIS_HOST``/``RABBIT_MQ_HOST`` name rt1's address and ``MEMCACHED_HOST`` job1's.

The site folder (``<workdir>/site``): ``site.yaml`` (ssh as root with the lab's key and
known_hosts, the LB addresses, the lab DNS as resolver, the lab root CA as ``tls.ca_bundle``,
``storage.path``, phase ``pre``), ``.env``, ``.env.web``, ``.env.job``, ``.env.realtime`` with every
variable the catalogue needs; secrets (48 random hex characters each, passwords, the DKIM key)
only in the ``.env`` files.

**Address allocation** (indices in the lab /24 and /64 of ``RS_LAB_NET``; :mod:`rs_lab.indices`
hands them out, so nothing else ever lands in a slot's range). A scenario takes a *slot*
(``Lease.slot()``; 0 is the tests' session-wide healthy site):

====  ===========  ==============
slot  hosts        services
====  ===========  ==============
0     10–19        180–189
1     20–29        190–199
2     40–49        200–209
3     50–59        210–219
====  ===========  ==============

Hosts in a slot: app1 +1, app2 +2, job1 +3, job2 +4, rt1 +5, db1 +6, deploy1 +7, store1 +8.
Services: DNS +0, LB +1, mail +2, PostgreSQL reader +3, NTP +4 (+5…+9 free for later parts).
Slot 0 uses the plain host names; slot *k* > 0 suffixes lab-side names with ``-k``
(namespaces ``<prefix>-h-app1-1``), while the site file keeps the logical names (app1 …), so two
slots can run at once. Every namespace and veth carries the ``RS_LAB_PREFIX``.

**Parts** are registered starters (:mod:`rs_lab.registry`, the bottom of this module): each says
when it runs, what it waits for, how it starts and stops, which namespaces it may leave and what it
writes into ``site.yaml``; :class:`LabSite` walks the registry. :data:`PARTS` are the small site's;
optional parts (``Scenario.plus("redis")``) come up only when a scenario names them.

**Overlays** (:data:`OVERLAYS`) each change exactly one thing and say which requirements they
are meant to break (``Overlay.breaks``) and on which host by default; adding one is a few lines
(see the bottom of this module).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import SLOTS, Lease, slot_indices
from rs_lab.netns import (
    BRIDGE,
    NET_INDEX,
    PREFIX,
    LabError,
    Namespace,
    addr4,
    addr6,
    bridge_down_if_unused,
    bridge_up,
    end_pids,
    ns_pids,
    sh,
)
from rs_lab.registry import SITE_SECTIONS, STARTERS, Starter, register
from rs_lab.service import LabService

if TYPE_CHECKING:
    from dns.resolver import Resolver

    from rs_lab.dns import DnsServer, ZoneSpec
    from rs_lab.echo import EchoBackend
    from rs_lab.lb import Backend, LoadBalancer
    from rs_lab.mail import MailServer
    from rs_lab.ntp import NtpServer
    from rs_lab.opensearch_standin import OpenSearchStandIn
    from rs_lab.postgres import PgServer
    from rs_lab.rabbitmq import RabbitNode
    from rs_lab.redis_server import RedisServer
    from rs_lab.share import SshfsShare

__all__ = ["OVERLAYS", "PARTS", "SLOTS", "HostPlan", "LabSite", "Overlay", "Scenario",
           "down_from_state", "known_parts", "namespace_names", "site_in_slot", "sweep_slot"]

GIB_KB = 1024 * 1024
# A slot's service indices (SLOTS[slot][1] + offset); +5…+9 are free for further parts.
SVC = {"dns": 0, "lb": 1, "mail": 2, "pg-reader": 3, "ntp": 4}
# The small site's parts (each registered in rs_lab.registry.STARTERS, at the end of this file)
PARTS = frozenset({"hosts", "ntp", "dns", "lb", "mail", "pg", "search", "share"})
HEALTHY_SYSCTLS = {"fs.file-max": "2097152", "vm.max_map_count": "262144"}
HEALTHY_DAEMON_JSON = ('{\n  "log-driver": "json-file",\n'
                       '  "log-opts": {"max-size": "100m", "max-file": "10"},\n'
                       '  "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 8192,'
                       ' "Hard": 100000}}\n}\n')
# Docker Compose v2 as a CLI plugin (scripts/setup-compose unpacks Debian 13's build there; the
# machine's / is every host's lower layer, so a symlink makes it the hosts' plugin)
COMPOSE_PLUGIN = "/opt/rs-lab/compose/docker-compose"
SYSCTL_FILE = "/etc/sysctl.d/99-rservice.conf"
SHARE_EXPORT = "/srv/rs-share"
STATE_FILE = "lab-state.json"
SECRET_VARS = ("ITRP_COOKIE_SECRET_TOKEN", "ITRP_OTP_SECRET", "ITRP_OTP_SALT",
               "STORAGE_LOCAL_SECRET_KEY", "MEMCACHED_SECRET_TOKEN", "FAYE_SECRET_TOKEN")


# -- the declarative part ------------------------------------------------------------------------


@dataclass
class HostPlan:
    """One R-Service host of a scenario: its roles and every fact a check may read."""

    name: str
    offset: int
    roles: tuple[str, ...]
    cpus: int
    mem_gb: int
    data_disks: dict[str, str] = field(default_factory=dict)  # mount point → size
    boot_gb: int = 30
    os: tuple[str, str] = ("ubuntu", "24.04")
    sysctls: dict[str, str] = field(default_factory=lambda: dict(HEALTHY_SYSCTLS))
    persisted: dict[str, str] | None = field(default_factory=lambda: dict(HEALTHY_SYSCTLS))
    nofile: tuple[int, int] | None = (8192, 100000)
    daemon_json: str | None = HEALTHY_DAEMON_JSON
    ntp: bool = True
    clock_offset_s: float = 0
    late_nft_rules: list[str] = field(default_factory=list)  # applied once services are up
    share: str = "sshfs"            # sshfs | local | none (app and job hosts get the share)
    extra_files: dict[str, str] = field(default_factory=dict)
    lab_host: bool = True           # False: not an R-Service host (the storage host)

    def mem_kb(self) -> int:
        # What a VM of that nominal size shows: the kernel keeps about 3 %.
        return int(self.mem_gb * GIB_KB * 0.97)


def _small_hosts() -> dict[str, HostPlan]:
    share = ("app", "job")
    plans = [
        HostPlan("app1", 1, ("app",), 2, 4),
        HostPlan("app2", 2, ("app",), 2, 4),
        HostPlan("job1", 3, ("job", "search"), 4, 16, {"/var/lib/opensearch": "50G"}),
        HostPlan("job2", 4, ("job",), 4, 16),
        HostPlan("rt1", 5, ("realtime",), 2, 4),
        HostPlan("db1", 6, ("db",), 4, 16, {"/var/lib/postgresql": "50G"}),
        HostPlan("deploy1", 7, ("deploy",), 1, 2),
        HostPlan("store1", 8, (), 1, 2, {SHARE_EXPORT: "20G"}, lab_host=False),
    ]
    for p in plans:
        p.share = "sshfs" if set(p.roles) & set(share) else "none"
    return {p.name: p for p in plans}


@dataclass
class Scenario:
    """A site to bring up: hosts, services and their toggles. Copy-on-write via overlays."""

    name: str = "small"
    slot: int = 0
    domain: str = "rs.lab"
    phase: str = "pre"
    hosts: dict[str, HostPlan] = field(default_factory=_small_hosts)
    parts: frozenset[str] = PARTS
    lb_kind: str = "nginx"
    lb_options: dict[str, Any] = field(default_factory=dict)     # LbSpec toggles, cert=…
    zone_options: dict[str, Any] = field(default_factory=dict)   # ZoneSpec fields
    mail_options: dict[str, Any] = field(default_factory=dict)   # MailSpec toggles
    pg_options: dict[str, Any] = field(default_factory=lambda: {"version": 18})
    search: str = "3.5.0"                                        # opensearch_standin.VARIANTS
    env_overrides: dict[str, str | None] = field(default_factory=dict)
    storage_path: str = "/mnt/rs-share"
    docker: bool = True
    echo: bool | None = None        # header-echo backends; None: only in phase post
    # role → (port, tls): what the LB uses toward the app and realtime hosts (and where the
    # echo backends listen); what the site file says about it: "backend_port" (443 for all),
    # "backends" (per role, as here) or "none" (rs-preflight finds out)
    lb_backends: dict[str, tuple[int, bool]] = field(
        default_factory=lambda: {"app": (443, True), "realtime": (443, True)})
    lb_declare: str = "backend_port"
    echo_teapot: dict[str, str] = field(default_factory=dict)  # host → a lying /teapot body
    wait_ntp: bool = False          # up() waits until every chrony client is synchronised
    overlays: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def small(cls, slot: int = 0, **kw: Any) -> Scenario:
        """The healthy ``small`` site (see the module docstring)."""
        return cls(name="small", slot=slot, **kw)

    # -- deriving ---------------------------------------------------------------------------
    def with_overlay(self, name: str, host: str | None = None) -> Scenario:
        """A copy broken in one way: ``OVERLAYS[name]`` applied (on ``host``, or its default)."""
        if name not in OVERLAYS:
            raise LabError(f"unknown overlay {name!r}; known: {', '.join(sorted(OVERLAYS))}")
        overlay = OVERLAYS[name]
        target = host or overlay.host
        if target is not None and target not in self.hosts:
            raise LabError(f"overlay {name}: no host {target!r} in the scenario")
        out = copy.deepcopy(self)
        overlay.apply(out, target)
        out.overlays = (*self.overlays, (name, target))
        return out

    def only(self, *parts: str) -> Scenario:
        """A copy that brings up only ``parts`` (see :data:`PARTS`); the site file stays whole.
        Without ``hosts`` the hosts are listed ``ssh: false`` (nothing connects to them).
        Careful: rs-preflight probes every service the ``.env`` files name, up or not (see
        :class:`Overlay`); fine for lab-side tests that never run the product."""
        unknown = set(parts) - known_parts()
        if unknown:
            raise LabError(f"unknown parts {sorted(unknown)}; known: {sorted(known_parts())}")
        return dataclasses.replace(copy.deepcopy(self), parts=frozenset(parts))

    def plus(self, *parts: str) -> Scenario:
        """A copy that also brings up ``parts`` (registered parts the small site leaves out)."""
        return self.only(*self.parts, *parts)

    def at_slot(self, slot: int) -> Scenario:
        return dataclasses.replace(copy.deepcopy(self), slot=slot)

    # -- addresses and names ----------------------------------------------------------------
    @property
    def host_base(self) -> int:
        return SLOTS[self.slot][0]

    @property
    def svc_base(self) -> int:
        return SLOTS[self.slot][1]

    def host_index(self, name: str) -> int:
        return self.host_base + self.hosts[name].offset

    def svc_index(self, service: str) -> int:
        return self.svc_base + SVC[service]

    def lab_name(self, name: str) -> str:
        """The lab-side (namespace, hostname) name of logical host ``name``."""
        return name if self.slot == 0 else f"{name}-{self.slot}"

    def address(self, name: str) -> str:
        return addr4(self.host_index(name))

    @property
    def pg_short(self) -> str:
        return "db1" if self.slot == 0 else f"db1s{self.slot}"

    @property
    def echo_on(self) -> bool:
        return self.echo if self.echo is not None else self.phase == "post"

    def up(self, workdir: Path) -> LabSite:
        """Bring the scenario up under ``workdir`` (see :class:`LabSite`)."""
        return LabSite(self, Path(workdir)).up()


def known_parts() -> frozenset[str]:
    """Parts a scenario may name: the small site's and every registered optional one."""
    return PARTS | {p for p, st in STARTERS.items() if not st.default}


# -- overlays -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overlay:
    """One way to break (or vary) a scenario. ``breaks``: the requirements it should fail
    (on ``host`` when host-level, else site-level); ``parts``: where the broken thing lives.

    ``parts`` is informational: a site brought up with only some parts still names every
    service in its ``.env`` files, and rs-preflight's one-round-trip fact gathering probes
    them all (RS-PORT-01 flows) — connecting to addresses that are not up costs timeouts and
    breaks the lab rule. Tests therefore bring up whole sites in another slot (about 5 s)."""

    apply: Callable[[Scenario, str | None], None]
    host: str | None = None
    breaks: tuple[str, ...] = ()
    parts: frozenset[str] = frozenset({"hosts", "dns"})
    doc: str = ""

    def __call__(self, scenario: Scenario, host: str | None = None) -> None:
        self.apply(scenario, host or self.host)


def _on_host(change: Callable[[HostPlan], None]) -> Callable[[Scenario, str | None], None]:
    def apply(sc: Scenario, host: str | None) -> None:
        assert host is not None
        change(sc.hosts[host])
    return apply


def _set(attr: str, value: Any) -> Callable[[Scenario, str | None], None]:
    def apply(sc: Scenario, host: str | None) -> None:
        setattr(sc, attr, value)
    return apply


def _opt(attr: str, **values: Any) -> Callable[[Scenario, str | None], None]:
    def apply(sc: Scenario, host: str | None) -> None:
        getattr(sc, attr).update(values)
    return apply


def _os(distro: str, version: str) -> Callable[[HostPlan], None]:
    def change(h: HostPlan) -> None:
        h.os = (distro, version)
    return change


def _sysctl(key: str, value: str) -> Callable[[HostPlan], None]:
    def change(h: HostPlan) -> None:
        h.sysctls[key] = value
        if h.persisted is not None:
            h.persisted.pop(key, None)  # a low runtime value nobody persisted
    return change


def _field(name: str, value: Any) -> Callable[[HostPlan], None]:
    def change(h: HostPlan) -> None:
        setattr(h, name, copy.deepcopy(value))
    return change


def _api_elsewhere(sc: Scenario, host: str | None) -> None:
    sc.zone_options.setdefault("overrides", {})["api"] = sc.address(host or "app1")


def _wildcard_missing(sc: Scenario, host: str | None) -> None:
    # Predetermined names keep their own records: only the wildcard is gone (RS-DNS-02).
    sc.zone_options.setdefault("overrides", {})["*"] = None
    sc.zone_options["explicit_predetermined"] = True


_HOST = frozenset({"hosts", "dns"})
_WEB = frozenset({"hosts", "dns", "lb"})

OVERLAYS: dict[str, Overlay] = {
    # operating system and kernel (RS-OS-01, RS-SYSCTL-*, RS-LIMIT-*)
    "os-unsupported": Overlay(_on_host(_os("debian", "12")), "app1", ("RS-OS-01",),
                              doc="Debian 12 instead of Ubuntu 24.04"),
    "os-debian12": Overlay(_on_host(_os("debian", "12")), "app1", ("RS-OS-01",)),
    "os-rhel8": Overlay(_on_host(_os("rhel", "8.10")), "app1", ("RS-OS-01",)),
    "sysctl-low": Overlay(_on_host(_sysctl("fs.file-max", "65536")), "rt1", ("RS-SYSCTL-01",),
                          doc="fs.file-max 65536 at runtime, not persisted"),
    "max-map-count-low": Overlay(_on_host(_sysctl("vm.max_map_count", "65530")), "job1",
                                 ("RS-SYSCTL-02",), doc="vm.max_map_count 65530"),
    "sysctl-not-persisted": Overlay(_on_host(_field("persisted", None)), "rt1", (),
                                    doc="right at runtime, no /etc/sysctl.d file (a message)"),
    "nofile-low": Overlay(_on_host(_field("nofile", (1024, 4096))), "app1",
                          ("RS-LIMIT-01", "RS-LIMIT-02"), doc="ulimit -n 1024, -Hn 4096"),
    "nofile-soft-low": Overlay(_on_host(_field("nofile", (1024, 100000))), "app1",
                               ("RS-LIMIT-01",)),
    "nofile-realtime-low": Overlay(_on_host(_field("nofile", (8192, 65536))), "rt1",
                                   ("RS-LIMIT-03",), doc="hard 65536 < 100000 on realtime"),
    # Docker (RS-DOCKER-03)
    "docker-no-rotation": Overlay(_on_host(_field("daemon_json", '{"log-driver": "json-file"}\n')),
                                  "app1", ("RS-DOCKER-03",)),
    "daemon-json-invalid": Overlay(
        _on_host(_field("daemon_json", '{"log-driver": "json-file", "log-opts": {\n')),
        "app1", ("RS-DOCKER-03",)),
    # time (RS-TIME-*)
    "clock-skew": Overlay(_on_host(_field("clock_offset_s", 3.0)), "app2", ("RS-TIME-03",),
                          frozenset({"hosts", "dns", "ntp"}), "clock 3 s ahead (libfaketime)"),
    "clock-hour-off": Overlay(_on_host(_field("clock_offset_s", 3600.0)), "app2",
                              ("RS-TIME-03",), frozenset({"hosts", "dns", "ntp"}),
                              "clock an hour ahead (libfaketime; fault suite)"),
    "no-ntp": Overlay(_on_host(_field("ntp", False)), "job2", ("RS-TIME-01",),
                      frozenset({"hosts", "dns", "ntp"}), "no chronyd on the host"),
    # name service (RS-DNS-*)
    "wildcard-missing": Overlay(_wildcard_missing, None, ("RS-DNS-02",), frozenset({"dns"})),
    "api-elsewhere": Overlay(_api_elsewhere, None, ("RS-DNS-03",), frozenset({"dns"}),
                             "api.<domain> points at app1, not the LB"),
    # certificates and load balancer (RS-TLS-*, RS-LB-*)
    "cert-no-intermediate": Overlay(_opt("lb_options", cert="no-intermediate"), None,
                                    ("RS-TLS-02",), _WEB),
    "cert-expired": Overlay(_opt("lb_options", cert="expired"), None, ("RS-TLS-03",), _WEB),
    "cert-wrong-names": Overlay(_opt("lb_options", cert="wrong-names"), None, ("RS-TLS-01",),
                                _WEB),
    "lb-drop-xfp": Overlay(_opt("lb_options", drop_xfp=True), None, ("RS-LB-03",), _WEB),
    "lb-rewrite-host": Overlay(_opt("lb_options", rewrite_host=True), None, ("RS-LB-01",),
                               _WEB),
    "lb-haproxy": Overlay(_set("lb_kind", "haproxy"), None, (), _WEB,
                          "a healthy HAProxy instead of nginx"),
    # mail (RS-MAIL-*)
    "mail-no-subaddressing": Overlay(_opt("mail_options", subaddressing=False), None,
                                     ("RS-MAIL-06",), frozenset({"hosts", "dns", "mail"})),
    "mail-no-archive": Overlay(_opt("mail_options", archive_folder=False), None,
                               ("RS-MAIL-03",), frozenset({"hosts", "dns", "mail"})),
    # databases (RS-PG-*); Debian's 15 stands for "unsupported" (no 16 binaries here)
    "pg15": Overlay(_opt("pg_options", version=15), None, ("RS-PG-01",),
                    frozenset({"hosts", "dns", "pg"})),
    "pg17": Overlay(_opt("pg_options", version=17), None, (), frozenset({"hosts", "dns", "pg"}),
                    "supported, not recommended"),
    "port-filtered": Overlay(_on_host(_field("late_nft_rules", ["tcp dport 5432 drop"])), "db1",
                             ("RS-PORT-01",), frozenset({"hosts", "dns", "pg"}),
                             "nftables drops 5432 on db1 (after PostgreSQL is up)"),
    # search (RS-SEARCH-*) — the OpenSearch stand-in
    "search-2x": Overlay(_set("search", "2.19.1"), None, ("RS-SEARCH-01",),
                         frozenset({"hosts", "dns", "search"})),
    "search-missing-plugin": Overlay(_set("search", "missing-plugin"), None, ("RS-SEARCH-02",),
                                     frozenset({"hosts", "dns", "search"})),
    "search-red": Overlay(_set("search", "red"), None, ("RS-SEARCH-03",),
                          frozenset({"hosts", "dns", "search"})),
    # settings (RS-ENV-*)
    "env-weak-secret": Overlay(_opt("env_overrides", FAYE_SECRET_TOKEN="changeme"), None,
                               ("RS-ENV-02",), _HOST, "FAYE_SECRET_TOKEN=changeme"),
    # storage (RS-STORAGE-01)
    "storage-local": Overlay(_on_host(_field("share", "local")), "app2", ("RS-STORAGE-01",),
                             frozenset({"hosts", "dns", "share"}),
                             "a local folder at the storage path, not the share"),
}


# -- the running site -----------------------------------------------------------------------------


def namespace_names(sc: Scenario) -> list[str]:
    """Every namespace a scenario may create (for sweeping after a crash): each registered
    part's (:data:`rs_lab.registry.STARTERS`)."""
    return [name for st in STARTERS.values() for name in st.namespaces(sc)]


def sweep_slot(slot: int) -> list[str]:
    """Remove what a crashed run left in ``slot``: its namespaces, processes and veths."""
    sc = Scenario.small(slot)
    removed = []
    present = set(sh(["ip", "netns", "list"], check=False).stdout.split())
    for name in namespace_names(sc):
        if name in present:
            end_pids(ns_pids(name))
            sh(["ip", "netns", "exec", name, "ss", "-K", "-a", "-t", "-u"], check=False)
            sh(["ip", "netns", "del", name], check=False)
            removed.append(name)
    for index in slot_indices(slot):
        veth = f"{PREFIX}v{index}"
        if sh(["ip", "link", "show", veth], check=False).returncode == 0:
            sh(["ip", "link", "del", veth], check=False)
            removed.append(veth)
    return removed


class LabSite:
    """A scenario brought up: hosts, services, the site folder; ``down()`` removes it all.

    ``up()`` walks the registry of starters (:mod:`rs_lab.registry`): every wanted part is made,
    started (in parallel, after the parts it waits for) and recorded in ``services`` (part →
    its thing). Shortcuts (``None`` for parts not brought up): ``hostlab``, ``hosts`` (logical
    name → :class:`LabHost`), ``dns``, ``lb``, ``mail``, ``pg``, ``search``, ``ntp``,
    ``share``, ``echoes``; ``pki``, ``site_file`` and ``env`` (variable → value, secrets
    included); ``timings`` (seconds per step).
    """

    def __init__(self, scenario: Scenario, workdir: Path) -> None:
        from rs_lab.workdir import make_traversable

        self.scenario = sc = scenario
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        workdir.chmod(0o711)
        make_traversable(workdir)
        self.site_dir = workdir / "site"
        self.site_file = self.site_dir / "site.yaml"
        self.timings: dict[str, float] = {}
        self.services: dict[str, Any] = {}
        self.hosts: dict[str, LabHost] = {}
        self.echoes: list[EchoBackend] = []
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self.domain = sc.domain
        self.lb_index = sc.svc_index("lb")
        self.dns_index = sc.svc_index("dns")
        self.mail_ns = Namespace(f"s{sc.slot}mail", sc.svc_index("mail"))
        self.secrets = {name: secrets.token_hex(24) for name in SECRET_VARS}
        self.passwords = {k: secrets.token_hex(16) for k in ("db", "imap", "smtp")}
        self.dkim_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.env: dict[str, str] = {}

    # -- the parts --------------------------------------------------------------------------
    @property
    def hostlab(self) -> HostLab | None:
        lab: HostLab | None = self.services.get("hosts")
        return lab

    @hostlab.setter
    def hostlab(self, lab: HostLab | None) -> None:
        self.services["hosts"] = lab

    @property
    def ntp(self) -> NtpServer | None:
        return cast("NtpServer | None", self.services.get("ntp"))

    @property
    def dns(self) -> DnsServer | None:
        return cast("DnsServer | None", self.services.get("dns"))

    @property
    def lb(self) -> LoadBalancer | None:
        return cast("LoadBalancer | None", self.services.get("lb"))

    @property
    def mail(self) -> MailServer | None:
        return cast("MailServer | None", self.services.get("mail"))

    @property
    def pg(self) -> PgServer | None:
        return cast("PgServer | None", self.services.get("pg"))

    @property
    def search(self) -> OpenSearchStandIn | None:
        return cast("OpenSearchStandIn | None", self.services.get("search"))

    @property
    def share(self) -> SshfsShare | None:
        return cast("SshfsShare | None", self.services.get("share"))

    # -- helpers for tests and people -------------------------------------------------------
    @property
    def lb_addresses(self) -> list[str]:
        return [addr4(self.lb_index), addr6(self.lb_index)]

    @property
    def dns_address(self) -> str:
        return addr4(self.dns_index)

    def host(self, name: str) -> LabHost:
        return self.hosts[name]

    def host_ns(self, name: str) -> Namespace:
        """The network namespace of host ``name`` (LabError if hosts are not up)."""
        if name in self.hosts:
            return self.hosts[name].ns
        raise LabError(f"{name} is not up: bring up the 'hosts' part too")

    def pins(self) -> dict[str, str]:
        """Name → LB address for :func:`rs_lab.webclient.pinned_session` (apex, realtime,
        predetermined names, and ``tenant.<domain>``)."""
        from rs_lab.dns import PREDETERMINED

        lb = addr4(self.lb_index)
        names = [self.domain, f"tenant.{self.domain}",
                 *(f"{p}.{self.domain}" for p in PREDETERMINED)]
        return {n: lb for n in names}

    def resolver(self) -> Resolver:
        """A dnspython resolver asking only the lab DNS (never the system's)."""
        import dns.resolver

        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [self.dns_address]
        r.lifetime, r.timeout = 5, 2
        return r

    @property
    def ca_path(self) -> Path:
        return self.site_dir / "lab-root-ca.pem"

    # -- bring-up ---------------------------------------------------------------------------
    def up(self) -> LabSite:
        t0 = time.monotonic()
        try:
            self._up()
        except BaseException:
            self.down()
            raise
        self.timings["total_up"] = time.monotonic() - t0
        return self

    def _on_down(self, label: str, fn: Callable[[], None]) -> None:
        with self._lock:
            self._stops.append((label, fn))

    def bring_up(self, part: str) -> Any:
        """Make, record and start registered part ``part``; its thing (also in
        ``services``). Its stop is recorded before it starts: ``down()`` stops a part that
        failed half-way too."""
        st = STARTERS[part]
        thing = st.make(self)
        with self._lock:
            self.services[part] = thing
        self._on_down(part, lambda: st.stop(self, thing))
        st.start(self, thing)
        return thing

    def _up(self) -> None:
        from rs_lab.pki import Pki

        sc = self.scenario
        t = time.monotonic()
        self.pki = Pki.create(self.workdir / "pki")
        self.timings["pki"] = time.monotonic() - t
        bridge_up()  # once, before threads race to create it
        wanted = [st for st in STARTERS.values() if st.is_wanted(sc)]
        with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
            jobs: dict[str, Future[None]] = {}
            for st in wanted:  # registration order: every part after those it waits for
                deps = [jobs[p] for p in st.after if p in jobs]
                jobs[st.part] = pool.submit(self._timed_part, st.part, deps)
            errors = []
            for job in jobs.values():
                try:
                    job.result()
                except BaseException as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]
        self._late_nft()
        if sc.wait_ntp and "ntp" in sc.parts:
            self.wait_time_synced()
        self.write_site()

    def _timed_part(self, part: str, deps: list[Future[None]]) -> None:
        for dep in deps:
            dep.result()
        t = time.monotonic()
        self.bring_up(part)
        self.timings[part] = time.monotonic() - t

    def host_spec(self, plan: HostPlan, ntp: str | None) -> HostSpec:
        """The lab host that stands for ``plan``."""
        sc = self.scenario
        files = dict(plan.extra_files)
        if "dns" in sc.parts:  # the site's resolver, as on a real host (never the machine's)
            files["/etc/resolv.conf"] = (f"nameserver {addr4(sc.svc_index('dns'))}\n"
                                         f"search {sc.domain}\n")
        if plan.persisted:
            files[SYSCTL_FILE] = "".join(f"{k} = {v}\n" for k, v in plan.persisted.items())
        if plan.daemon_json is not None and plan.lab_host:
            files["/etc/docker/daemon.json"] = plan.daemon_json
        distro, version = plan.os
        if distro == "rhel":
            files["/etc/redhat-release"] = f"Red Hat Enterprise Linux release {version} (Plow)\n"
        disks = {"/": f"{plan.boot_gb}G", **plan.data_disks}
        wants_docker = sc.docker and bool(set(plan.roles) & {"app", "job", "realtime"})
        return HostSpec(sc.lab_name(plan.name), sc.host_index(plan.name),
                        os_release(distro, version), extra_files=files,
                        sysctls=dict(plan.sysctls), nofile=plan.nofile, cpus=plan.cpus,
                        mem_kb=plan.mem_kb(), disks=disks,
                        ntp_server=ntp if plan.ntp else None,
                        clock_offset_s=plan.clock_offset_s,
                        services=["docker"] if wants_docker else [],
                        symlinks={"/usr/libexec/docker/cli-plugins/docker-compose":
                                  COMPOSE_PLUGIN} if wants_docker else {})

    def zone_spec(self) -> ZoneSpec:
        from rs_lab.dns import ZoneSpec, dkim_txt

        sc = self.scenario
        mail = [self.mail_ns.ipv4, self.mail_ns.ipv6]
        hosts: dict[str, str | Sequence[str]] = {
            name: [addr4(sc.host_index(name)), addr6(sc.host_index(name))]
            for name, plan in sc.hosts.items()}
        db = hosts["db1"]
        reader = sc.svc_index("pg-reader")
        hosts.update({sc.pg_short: db, f"{sc.pg_short}-reader": [addr4(reader), addr6(reader)],
                      "mail": mail, "smtp": mail, "imap": mail})
        opts = dict(sc.zone_options)
        return ZoneSpec(sc.domain, lb=self.lb_addresses, mail=mail, dkim_selector="rs",
                        dkim_public_key=dkim_txt(self.dkim_key), hosts=hosts, **opts)

    def backends(self) -> tuple[list[Backend], list[Backend]]:
        """The load balancer's app and realtime backends, as the scenario says."""
        from rs_lab.lb import Backend

        sc = self.scenario
        (app_port, app_tls), (rt_port, rt_tls) = sc.lb_backends["app"], sc.lb_backends["realtime"]
        app = [Backend(sc.address(n), app_port, tls=app_tls) for n, p in sc.hosts.items()
               if "app" in p.roles]
        rt = [Backend(sc.address(n), rt_port, tls=rt_tls) for n, p in sc.hosts.items()
              if "realtime" in p.roles]
        return app, rt

    def restart_lb(self) -> None:
        """Stop the load balancer and start it again as the scenario now says (another
        ``lb_backends``, ``lb_options``…); everything else stays up."""
        if self.lb is not None:
            self.lb.stop()
        with self._lock:
            self._stops = [(label, stop) for label, stop in self._stops if label != "lb"]
        self.bring_up("lb")

    def start_echo(self) -> None:
        """The header-echo backends on the app and realtime hosts (``lb_backends``)."""
        from rs_lab.echo import EchoBackend

        sc = self.scenario
        names = [n for n, p in sc.hosts.items() if {"app", "realtime"} & set(p.roles)]
        started: list[EchoBackend] = []
        try:
            for name in names:
                role = "app" if "app" in sc.hosts[name].roles else "realtime"
                port, tls = sc.lb_backends[role]
                issued = self.pki.issue(f"backend-{name}", [f"{name}.{sc.domain}",
                                                            sc.address(name)])
                teapot = {"teapot_body": sc.echo_teapot[name]} if name in sc.echo_teapot else {}
                echo = EchoBackend(self.hosts[name].ns, self.workdir / "echo" / name, port=port,
                                   name=name,
                                   tls=(issued.chain_path, issued.key_path) if tls else None,
                                   **teapot)
                started.append(echo)
                echo.start()
        finally:
            with self._lock:
                self.echoes += started

    def stop_echo(self) -> None:
        with self._lock:
            echoes, self.echoes = self.echoes, []
        for echo in echoes:
            with contextlib.suppress(Exception):
                echo.stop()

    @contextlib.contextmanager
    def echo_backends(self) -> Iterator[list[EchoBackend]]:
        """Run the header-echo backends (app and realtime hosts, on ``lb_backends``) a while,
        as the pre-phase LB checks will; stopped afterwards unless they were already up."""
        if self.echoes:
            yield self.echoes
            return
        try:
            self.start_echo()
            yield self.echoes
        finally:
            self.stop_echo()

    def _late_nft(self) -> None:
        for name, plan in self.scenario.hosts.items():
            if plan.late_nft_rules and name in self.hosts:
                body = "".join(f"    {r}\n" for r in plan.late_nft_rules)
                ruleset = (f"table inet rslab_late {{\n  chain input {{\n    type filter hook "
                           f"input priority 0; policy accept;\n{body}  }}\n}}\n")
                self.hosts[name].ns.run(["nft", "-f", "-"], input=ruleset)

    def wait_time_synced(self, timeout: float = 30) -> None:
        """Wait until every host with NTP reports ``Leap status : Normal``."""
        from rs_lab.ntp import wait_synced

        t = time.monotonic()
        names = [n for n, p in self.scenario.hosts.items() if p.ntp and n in self.hosts]
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            list(pool.map(lambda n: wait_synced(self.hosts[n], timeout), names))
        self.timings["ntp_sync"] = time.monotonic() - t

    # -- the site folder --------------------------------------------------------------------
    def env_files(self) -> dict[str, dict[str, str]]:
        """The four .env files' variables (what R-Service's installer would be given)."""
        sc = self.scenario
        d = sc.domain
        pem = self.dkim_key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()
        search = f"http://job1.{d}:9200"
        common = {
            "ITRP_DOMAIN": d, "ITRP_SSL": "true", **self.secrets,
            "ITRP_ERRORS_MAILBOX": f"errors@{d}", "ITRP_INFO_MAILBOX": f"info@{d}",
            "ITRP_SUPPORT_MAILBOX": f"support@{d}", "ITRP_NOREPLY_MAILBOX": f"noreply@{d}",
            "ITRP_INBOUND_MAILBOX": f"rs@{d}", "ITRP_BOUNCED_MAILBOX": f"bounced@{d}",
            "ITRP_INBOUND_CATCH_ALL": "false",
            "DB_WRITER_HOST": f"{sc.pg_short}.{d}", "DB_WRITER_PORT": "5432",
            "DB_WRITER_USERNAME": "rs_writer", "DB_WRITER_PASSWORD": self.passwords["db"],
            "DB_WRITER_DATABASE": "rservice",
            "DB_READER_HOST": f"{sc.pg_short}-reader.{d}", "DB_READER_PORT": "5432",
            "DB_READER_USERNAME": "rs_writer", "DB_READER_PASSWORD": self.passwords["db"],
            "DB_READER_DATABASE": "rservice",
            "DB_SSL_MODE": "VERIFY_IDENTITY" if sc.pg_options.get("tls", True) else "DISABLED",
            "REDIS_HOST": sc.address("rt1"), "RABBIT_MQ_HOST": sc.address("rt1"),
            "MEMCACHED_HOST": sc.address("job1"),
            "ELASTICSEARCH_URLS": search,
            "FAYE_URL": f"https://realtime.{d}",
            "RSERVICE_SMTP_HOST": f"smtp.{d}", "RSERVICE_SMTP_PORT": "587",
            "RSERVICE_SMTP_USERNAME": f"noreply@{d}",
            "RSERVICE_SMTP_PASSWORD": self.passwords["smtp"],
            "RSERVICE_SMTP_AUTHENTICATION": "plain",
            "RSERVICE_SMTP_OPENSSL_VERIFY_MODE": "peer",
            "MAIL_DKIM_ENABLED": "true", "MAIL_DKIM_SELECTOR": "rs", "MAIL_DKIM_DOMAIN": d,
            "MAIL_DKIM_PRIVATE_KEY": pem,
        }
        web = {"ITRP_TRUSTED_PROXIES": f"{addr4(self.lb_index)}/32,{addr6(self.lb_index)}/128",
               "ITRP_SECURE_COOKIES": "true"}
        job = {"CLACKS_ADDRESS": f"imap.{d}", "CLACKS_PORT": "993", "CLACKS_ENABLE_SSL": "true",
               "CLACKS_USERNAME": f"rs@{d}", "CLACKS_PASSWORD": self.passwords["imap"],
               "CLACKS_MAILBOX": "INBOX", "CLACKS_ARCHIVEBOX": "ARCHIVE",
               "CLACKS_DELETE_AFTER_FIND": "false"}
        realtime = {"FAYE_REDIS_HOST": sc.address("rt1")}
        files = {".env": common, ".env.web": web, ".env.job": job, ".env.realtime": realtime}
        for name, value in sc.env_overrides.items():
            holder = next((f for f in files.values() if name in f), common)
            if value is None:
                holder.pop(name, None)
            else:
                holder[name] = value
        return files

    def write_site(self) -> Path:
        """Write ``site/`` (site.yaml, .env*, the lab root CA); return the site file."""
        sc = self.scenario
        self.site_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.pki.root_path, self.ca_path)
        files = self.env_files()
        self.env = {}
        for fname, values in files.items():
            self.env.update(values)
            lines = [f"# R-Service settings for the rs-preflight lab ({fname}); secrets are lab "
                     "only"]
            lines += [f"{k}={_env_quote(v)}" for k, v in values.items()]
            path = self.site_dir / fname
            path.write_text("\n".join(lines) + "\n")
            path.chmod(0o600)
        sections: dict[str, list[str]] = {
            "tls": [f"tls: {{ca_bundle: {self.ca_path.name}, warn_days: 30}}"],
            "time": ["time: {max_skew_ms: 500}"],
        }
        for st in STARTERS.values():  # what each registered part says about itself
            if st.site_yaml is not None:
                sections.update(st.site_yaml(self))
        order = [*SITE_SECTIONS, *(k for k in sections if k not in SITE_SECTIONS)]
        overlays = ", ".join(f"{n}@{h}" if h else n for n, h in sc.overlays) or "none"
        text = "\n".join([
            f"# The rs-preflight lab: scenario {sc.name}, slot {sc.slot}, overlays: {overlays}.",
            "# Written by rs_lab.scenario; check it with: rs-preflight --site <this file>",
            f"name: rs-lab-{sc.name}" + (f"-{sc.slot}" if sc.slot else ""),
            "profile: small",
            f"phase: {sc.phase}",
            "env_files: [.env, .env.web, .env.job, .env.realtime]",
            *(line for key in order for line in sections.get(key, [])),
        ])
        self.site_file.write_text(text + "\n")
        return self.site_file

    # -- state (for scripts/lab) ------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What ``down_from_state`` needs after this process is gone."""
        pids: list[int] = []
        for h in self.hosts.values():
            pids += [p.pid for p in h.ns.procs]
            pids += [h.pid1] if h.pid1 else []
            pids += [h.launcher.pid] if h.launcher else []
        for thing in [*self.services.values(), *self.echoes]:
            if isinstance(thing, LabService):
                pids += thing.pids()
                pids += [p.pid for ns in thing.owned_namespaces() for p in ns.procs]
        sc = self.scenario
        return {"prefix": PREFIX, "net": NET_INDEX, "workdir": str(self.workdir),
                "site_file": str(self.site_file), "scenario": sc.name, "slot": sc.slot,
                "phase": sc.phase, "overlays": [list(o) for o in sc.overlays],
                "namespaces": namespace_names(sc), "pids": sorted(set(pids)),
                "indices": [sc.host_index(h) for h in sc.hosts]
                + [sc.svc_base + i for i in range(10)],
                "timings": self.timings}

    def save_state(self) -> Path:
        path = self.workdir / STATE_FILE
        path.write_text(json.dumps(self.state(), indent=1))
        return path

    # -- teardown ---------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop everything (newest first), then sweep this slot's names; never raises.
        Returns what went wrong on the way (empty when all went well)."""
        t = time.monotonic()
        problems: list[str] = []
        self.stop_echo()
        with self._lock:
            stops, self._stops = self._stops[::-1], []
        # Services first (they may live in host namespaces), hosts last.
        stops.sort(key=lambda s: s[0] == "hosts")
        for label, stop in stops:
            try:
                stop()
            except Exception as exc:
                problems.append(f"{label}: {exc}")
        leftovers = sweep_slot(self.scenario.slot)
        if leftovers:
            problems.append(f"swept leftovers: {leftovers}")
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.timings["down"] = time.monotonic() - t
        return problems

    def __enter__(self) -> LabSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


@contextlib.contextmanager
def site_in_slot(scenario: Scenario, workdir: Path, lease: Lease) -> Iterator[LabSite]:
    """``scenario`` up in a free slot of ``lease`` (its own ``slot`` is replaced) under
    ``workdir``; down, and the slot given back, when the ``with`` ends."""
    slot = lease.slot()
    try:
        site = LabSite(scenario.at_slot(slot), workdir)
        try:
            yield site.up()
        finally:
            site.down()
    finally:
        lease.free_slot(slot)


def _env_quote(value: str) -> str:
    """A .env value: bare when safe, else double-quoted with escapes (python-dotenv rules)."""
    if value and all(c.isalnum() or c in "@._:/,+-=" for c in value):
        return value
    esc = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{esc}"'


def down_from_state(workdir: Path) -> list[str]:
    """Tear down a lab recorded in ``workdir/lab-state.json`` by a process that is gone:
    end its PIDs, remove its namespaces and veths (by name and index), sweep host namespaces
    of the prefix, unmount and delete the work folder. Returns what was removed."""
    from rs_lab.hosts import sweep_hosts

    removed: list[str] = []
    path = workdir / STATE_FILE
    state: Mapping[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    pids = [int(p) for p in state.get("pids", [])]
    if pids:
        end_pids(pids)
        removed += [f"pid {p}" for p in pids]
    present = set(sh(["ip", "netns", "list"], check=False).stdout.split())
    for name in state.get("namespaces", []):
        if name in present:
            end_pids(ns_pids(name))
            sh(["ip", "netns", "exec", name, "ss", "-K", "-a", "-t", "-u"], check=False)
            sh(["ip", "netns", "del", name], check=False)
            removed.append(name)
    for index in state.get("indices", []):
        veth = f"{PREFIX}v{index}"
        if sh(["ip", "link", "show", veth], check=False).returncode == 0:
            sh(["ip", "link", "del", veth], check=False)
            removed.append(veth)
    for slot in SLOTS:
        removed += sweep_slot(slot)
    removed += sweep_hosts()
    if bridge_down_if_unused():  # shared by every lab of the prefix: last one out
        removed.append(BRIDGE)
    if workdir.exists():
        subprocess.run(["umount", "-R", "-l", str(workdir)], capture_output=True, check=False)
        shutil.rmtree(workdir, ignore_errors=True)
        removed.append(str(workdir))
    return removed


# -- the registered parts (rs_lab.registry) -------------------------------------------------------
# Registration order is start order: every part after the parts it waits for.


def _start_hosts(site: LabSite, lab: HostLab) -> None:
    sc = site.scenario
    if "hosts" not in sc.parts:  # the HostLab still gives the site file its SSH key
        return
    ntp = addr4(sc.svc_index("ntp")) if "ntp" in sc.parts else None
    up = lab.add_many([site.host_spec(plan, ntp) for plan in sc.hosts.values()])
    site.hosts = dict(zip(sc.hosts, up, strict=True))


def _hosts_yaml(site: LabSite) -> dict[str, list[str]]:
    sc = site.scenario
    assert site.hostlab is not None
    extra = "" if "hosts" in sc.parts else ", ssh: false"
    return {
        "ssh": ["ssh:", "  user: root", f"  identity_file: {site.hostlab.identity_file}",
                f"  known_hosts: {site.hostlab.known_hosts}", "  host_key_policy: strict",
                "  connect_timeout: 3", "  command_timeout: 20"],
        "hosts": ["hosts:", *(f"  {name}: {{address: {sc.address(name)}, "
                              f"roles: [{', '.join(plan.roles)}]{extra}}}"
                              for name, plan in sc.hosts.items() if plan.lab_host)],
    }


def _make_ntp(site: LabSite) -> NtpServer:
    from rs_lab.ntp import NtpServer

    sc = site.scenario
    return NtpServer(sc.svc_index("ntp"), site.workdir / "ntp", short=f"s{sc.slot}ntp")


def _make_dns(site: LabSite) -> DnsServer:
    from rs_lab.dns import DnsServer

    return DnsServer(site.dns_index, site.workdir / "dns", site.zone_spec())


def _dns_yaml(site: LabSite) -> dict[str, list[str]]:
    if "dns" in site.scenario.parts:
        return {"dns": [f"dns: {{resolvers: [{site.dns_address}]}}"]}
    return {"dns": ["# dns: not brought up in this site"]}


def _make_lb(site: LabSite) -> LoadBalancer:
    from rs_lab.lb import LB_KINDS, LbSpec

    sc = site.scenario
    app, rt = site.backends()
    spec = LbSpec(domain=sc.domain, app=app, realtime=rt, **sc.lb_options)
    return LB_KINDS[sc.lb_kind](site.lb_index, site.workdir / "lb", spec, pki=site.pki)


def _lb_yaml(site: LabSite) -> dict[str, list[str]]:
    sc = site.scenario
    lines = ["load_balancer:", f"  addresses: [{', '.join(site.lb_addresses)}]"]
    if sc.lb_declare == "backend_port":
        lines.append("  backend_port: 443")
    elif sc.lb_declare == "backends":
        lines += ["  backends:", *(f"    {role}: {{port: {port}, tls: {str(tls).lower()}}}"
                                   for role, (port, tls) in sc.lb_backends.items())]
    else:
        lines.append("  # backends: not said; rs-preflight finds out (app 443 or 80, realtime 443)")
    return {"load_balancer": lines}


def _make_mail(site: LabSite) -> MailServer:
    from rs_lab.mail import MailServer, MailSpec

    sc = site.scenario
    spec = MailSpec(domain=sc.domain, short="mail", inbound_password=site.passwords["imap"],
                    sender_password=site.passwords["smtp"], **sc.mail_options)
    return MailServer(spec, site.workdir / "mail", site.pki, index=site.mail_ns.index,
                      ns_short=site.mail_ns.short)


def _make_pg(site: LabSite) -> PgServer:
    from rs_lab.postgres import PgServer, PgSpec, Role

    sc = site.scenario
    spec = PgSpec(short=sc.pg_short, domain=sc.domain, replica=True,
                  writer=Role("rs_writer", site.passwords["db"]), **sc.pg_options)
    return PgServer(spec, site.workdir / "pg", site.pki, ns=site.host_ns("db1"),
                    reader_index=sc.svc_index("pg-reader"))


def _make_search(site: LabSite) -> OpenSearchStandIn:
    from rs_lab.opensearch_standin import OpenSearchStandIn

    return OpenSearchStandIn(site.host_ns("job1"), site.workdir / "search", site.scenario.search)


def _make_share(site: LabSite) -> SshfsShare:
    from rs_lab.share import SshfsShare

    assert site.hostlab is not None
    return SshfsShare(site.hosts["store1"], SHARE_EXPORT, site.hostlab.identity_file,
                      site.hostlab.known_hosts)


def _start_share(site: LabSite, share: SshfsShare) -> None:
    from rs_lab.share import local_folder

    sc = site.scenario
    share.export()
    mounts = [(n, p) for n, p in sc.hosts.items() if p.share != "none"]
    with ThreadPoolExecutor(max_workers=max(1, len(mounts))) as pool:
        futures = [pool.submit(share.mount if p.share == "sshfs" else local_folder,
                               site.hosts[n], sc.storage_path) for n, p in mounts]
        for f in futures:
            f.result()


def _nothing(site: LabSite, thing: object) -> None:
    """The share needs no stop: its mounts die with the hosts' mount namespaces."""


def _storage_yaml(site: LabSite) -> dict[str, list[str]]:
    return {"storage": [f"storage: {{path: {site.scenario.storage_path}}}"]}


def _start_echo(site: LabSite, echoes: object) -> None:
    site.start_echo()


def _stop_echo(site: LabSite, echoes: object) -> None:
    site.stop_echo()


register(Starter("hosts", lambda site: HostLab(site.workdir / "hostlab"), _start_hosts,
                 lambda site, lab: lab.down(), wanted=lambda sc: True,
                 namespaces=lambda sc: [f"{PREFIX}-h-{sc.lab_name(h)}" for h in sc.hosts],
                 site_yaml=_hosts_yaml, doc="namespace hosts with their own sshd"))
register(Starter("ntp", _make_ntp, namespaces=lambda sc: [f"{PREFIX}-s{sc.slot}ntp"],
                 doc="chronyd at stratum 8"))
register(Starter("dns", _make_dns, namespaces=lambda sc: [f"{PREFIX}-dns{sc.svc_index('dns')}"],
                 site_yaml=_dns_yaml, doc="BIND, authoritative for the domain"))
register(Starter("lb", _make_lb,
                 namespaces=lambda sc: [f"{PREFIX}-{kind}{sc.svc_index('lb')}"
                                        for kind in ("nginx", "haproxy")],
                 site_yaml=_lb_yaml, doc="nginx or HAProxy with the lab certificate"))
register(Starter("mail", _make_mail, namespaces=lambda sc: [f"{PREFIX}-s{sc.slot}mail"],
                 doc="Postfix + Dovecot"))
register(Starter("pg", _make_pg, after=("hosts",),
                 namespaces=lambda sc: [f"{PREFIX}-{sc.pg_short}-r"],
                 doc="PostgreSQL in db1's namespace + a streaming replica"))
register(Starter("search", _make_search, after=("hosts",),
                 doc="the OpenSearch STAND-IN on job1"))
register(Starter("share", _make_share, _start_share, _nothing, after=("hosts",),
                 site_yaml=_storage_yaml, doc="sshfs from store1"))
register(Starter("echo", lambda site: site.echoes, _start_echo, _stop_echo, after=("hosts",),
                 wanted=lambda sc: sc.echo_on and "lb" in sc.parts,
                 doc="header-echo backends on the app and realtime hosts"))


# Optional parts: not in the small site (R-Service runs them only after installation, and the
# pre-flight checks do not ask for them); a scenario names them (Scenario.plus("redis")). Both
# stand where the .env files say: REDIS_HOST and RABBIT_MQ_HOST are rt1's address.


def _make_redis(site: LabSite) -> RedisServer:
    from rs_lab.redis_server import RedisServer

    return RedisServer(site.host_ns("rt1"), site.workdir / "redis")


def _make_rabbitmq(site: LabSite) -> RabbitNode:
    from rs_lab.rabbitmq import RabbitNode

    return RabbitNode(site.host_ns("rt1"), site.workdir / "rabbitmq")


register(Starter("redis", _make_redis, after=("hosts",), default=False,
                 doc="Debian's redis-server on rt1"))
register(Starter("rabbitmq", _make_rabbitmq, after=("hosts",), default=False,
                 doc="Debian's rabbitmq-server (one node, management API) on rt1"))
