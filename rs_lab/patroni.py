"""A real Patroni cluster (PostgreSQL 15, etcd 3.4 as the DCS) in lab namespaces: RS-PG-05's lab.

Binaries: Patroni from PyPI in its own virtualenv ``$RS_LAB_PATRONI`` (default
``/opt/rs-lab/patroni``, built on Debian's ``/usr/bin/python3`` by ``scripts/setup-patroni``:
Patroni must run as ``postgres`` because initdb and postgres refuse root, and ``postgres`` cannot
read root's pyenv), etcd from Debian's ``etcd-server``, PostgreSQL 15 from Debian (Patroni needs
``pg_basebackup``; the npm builds of 17/18 lack it).

Layout: etcd in namespace ``<short>-etcd`` at ``index``; member ``i`` (``m1``, ``m2``, …) in
namespace ``<short>-m<i>`` at ``index + i``, PostgreSQL on ``<ip>:5432``, the REST API
on ``<ip>:8008``. Work folders live under a :func:`rs_lab.workdir.service_root` (postgres must
traverse them). Processes are ended by PID; ``stop`` always removes processes, namespaces and
folders.

>>> with PatroniCluster(PatroniSpec(members=3), index=lease.block(4)[0]) as cluster:
...     # start() waited for 1 leader + 2 streaming
...     cluster.cluster()["members"]                              # GET /cluster from a member
...     cluster.stop_member(cluster.replicas()[0])                # Patroni's graceful shutdown
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg.conninfo import make_conninfo

from rs_lab.netns import LabError, Namespace, create_fresh, end_pids, ns_pids, wait_port
from rs_lab.postgres import RUN_AS, Role, bindir
from rs_lab.service import Addressed, LabService
from rs_lab.workdir import remove, service_root

PATRONI_ROOT = Path(os.environ.get("RS_LAB_PATRONI", "/opt/rs-lab/patroni"))
PATRONI = PATRONI_ROOT / "bin" / "patroni"
ETCD = "/usr/bin/etcd"
API_PORT = 8008
PG_PORT = 5432
ETCD_PORT = 2379
NFT_TABLE = "rs_lab_patroni"
SUPERUSER = Role("postgres", "lab-patroni-su-pw")
REPLICATOR = Role("replicator", "lab-patroni-rep-pw")

Doc = dict[str, Any]


@dataclass(frozen=True)
class PatroniSpec:
    """One lab Patroni cluster (its indices are given to :class:`PatroniCluster`)."""

    members: int = 3
    short: str = "pat"
    scope: str = "rs-lab"
    version: int = 15
    superuser: Role = SUPERUSER
    replicator: Role = REPLICATOR


@dataclass
class Member(Addressed):
    """One Patroni member (with its PostgreSQL) in a namespace of its own."""

    name: str
    ns: Namespace
    folder: Path
    pid: int | None = None

    @property
    def api(self) -> str:
        return f"http://{self.ipv4}:{API_PORT}"

    @property
    def datadir(self) -> Path:
        return self.folder / "data"

    @property
    def config(self) -> Path:
        return self.folder / "patroni.yml"

    @property
    def log(self) -> Path:
        return self.folder.parent / f"{self.name}-patroni.log"


class PatroniCluster(LabService):
    """etcd + ``spec.members`` Patroni members; ``start`` waits until the cluster is healthy.

    ``index``: etcd's namespace (``<short>-etcd``; the cluster's ``ipv4``/``ipv6`` are the DCS
    endpoint's), members at ``index + 1`` … ``index + members`` (a block of ``members + 1``
    indices). Work folders live under a fresh :func:`rs_lab.workdir.service_root` unless
    ``workdir`` is given; ``stop`` removes it.
    """

    short = "pat"

    def __init__(self, spec: PatroniSpec | None = None, *, index: int,
                 workdir: Path | None = None, healthy_timeout: float = 120.0) -> None:
        self.spec = spec or PatroniSpec()
        super().__init__(index, workdir or service_root("patroni"),
                         ns_short=f"{self.spec.short}-etcd")
        self.etcd_ns = self.ns
        self.healthy_timeout = healthy_timeout
        self.members = [Member(f"m{i}", Namespace(f"{self.spec.short}-m{i}", index + i), Path())
                        for i in range(1, self.spec.members + 1)]
        self._member_ns: list[Namespace] = []

    # -- life cycle -------------------------------------------------------------------------
    def _start(self) -> None:
        if not PATRONI.exists():
            raise LabError(f"{PATRONI} missing: run scripts/setup-patroni")
        self._start_etcd()
        for m in self.members:
            m.folder = self.workdir / m.name
            create_fresh(m.ns)
            self._member_ns.append(m.ns)
            self._prepare(m)
            self.start_member(m)
        self.wait_healthy(self.healthy_timeout)

    def _start_etcd(self) -> None:
        ns = self.etcd_ns
        client = f"http://{ns.ipv4}:{ETCD_PORT}"
        peer = "http://127.0.0.1:2380"
        self.popen([ETCD, "--name", "rs-lab-etcd", "--data-dir", str(self.workdir / "etcd"),
                    "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", f"rs-lab-etcd={peer}", "--initial-cluster-state",
                    "new", "--logger", "zap", "--log-outputs", "stderr"], "etcd.log")
        wait_port(ns, ns.ipv4, ETCD_PORT, timeout=20)

    def _prepare(self, m: Member) -> None:
        m.folder.mkdir(parents=True)
        shutil.chown(m.folder, "postgres", "postgres")
        m.folder.chmod(0o700)
        m.config.write_text(json.dumps(self._config(m), indent=1))  # JSON is YAML
        shutil.chown(m.config, "postgres", "postgres")
        m.config.chmod(0o600)

    def _config(self, m: Member) -> Doc:
        s = self.spec
        auth = {"superuser": {"username": s.superuser.name, "password": s.superuser.password},
                "replication": {"username": s.replicator.name,
                                "password": s.replicator.password}}
        return {
            "scope": s.scope, "namespace": "/rs-lab/", "name": m.name,
            "log": {"level": "INFO"},
            "restapi": {"listen": f"{m.ipv4}:{API_PORT}",
                        "connect_address": f"{m.ipv4}:{API_PORT}"},
            "etcd3": {"hosts": [f"{self.etcd_ns.ipv4}:{ETCD_PORT}"], "protocol": "http"},
            "bootstrap": {
                "dcs": {"ttl": 20, "loop_wait": 2, "retry_timeout": 5,
                        "maximum_lag_on_failover": 1048576,
                        "postgresql": {"use_pg_rewind": False, "use_slots": True,
                                       "parameters": {"max_connections": 40,
                                                      "max_wal_senders": 10,
                                                      "max_replication_slots": 10,
                                                      "wal_level": "replica",
                                                      "hot_standby": "on",
                                                      "wal_keep_size": "64MB"}}},
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, {"auth": "scram-sha-256"}],
            },
            "postgresql": {
                "listen": f"{m.ipv4}:{PG_PORT}",
                "connect_address": f"{m.ipv4}:{PG_PORT}",
                "data_dir": str(m.datadir), "bin_dir": str(bindir(s.version)),
                "pgpass": str(m.folder / "pgpass"),
                "authentication": auth,
                "parameters": {"unix_socket_directories": str(m.folder),
                               "shared_buffers": "16MB", "fsync": "off",
                               "synchronous_commit": "off", "full_page_writes": "off",
                               "dynamic_shared_memory_type": "posix"},
                "pg_hba": [f"host replication {s.replicator.name} 0.0.0.0/0 scram-sha-256",
                           "host all all 0.0.0.0/0 scram-sha-256",
                           "local all all trust"],
                "basebackup": [{"checkpoint": "fast"}],
            },
            "watchdog": {"mode": "off"},
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
        }

    def start_member(self, m: Member) -> None:
        """Start (or restart) member ``m``'s Patroni as ``postgres`` (setpriv execs: our PID)."""
        proc = m.ns.popen([*RUN_AS, str(PATRONI), str(m.config)], log=m.log,
                          env={"HOME": str(m.folder), "LC_ALL": "C.UTF-8"})
        m.pid = proc.pid

    def stop_member(self, m: Member, grace: float = 30.0) -> None:
        """Patroni's graceful shutdown (TERM: it stops PostgreSQL first), KILL after ``grace``.

        Whatever is left in the namespace (postgres after a KILL) is ended by PID too.
        """
        if m.pid is not None:
            end_pids([m.pid], grace=grace)
            for proc in list(m.ns.procs):
                if proc.pid == m.pid:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=2)
                    m.ns.procs.remove(proc)
            m.pid = None
        end_pids(ns_pids(m.ns.name), grace=5.0)

    def _stop(self) -> None:
        """End every member by PID, remove their namespaces and the work folder (etcd and its
        namespace: the base)."""
        for m in self.members:
            with contextlib.suppress(Exception):
                if m.pid is not None:
                    end_pids([m.pid], grace=10.0)
                    m.pid = None
        for ns in self._member_ns:
            ns.destroy()
        self._member_ns.clear()
        remove(self.workdir)

    def pids(self) -> list[int]:
        return super().pids() + [m.pid for m in self.members if m.pid is not None]

    def owned_namespaces(self) -> list[Namespace]:
        return super().owned_namespaces() + list(self._member_ns)

    # -- the REST API -----------------------------------------------------------------------
    def _request(self, method: str, m: Member, path: str, body: Doc | None = None) -> Doc:
        with requests.Session() as session:
            session.trust_env = False  # lab addresses only, never a proxy
            resp = session.request(method, f"{m.api}{path}", json=body, timeout=5)
            resp.raise_for_status()
            doc: Doc = resp.json()
            return doc

    def cluster(self) -> Doc:
        """``GET /cluster`` from the first running member that answers."""
        problems = []
        for m in self.members:
            if m.pid is None:
                continue
            try:
                return self._request("GET", m, "/cluster")
            except (requests.RequestException, ValueError) as exc:
                problems.append(f"{m.name}: {exc}")
        raise LabError("no Patroni member answered /cluster: " + "; ".join(problems))

    def wait_for(self, what: str, ok: Callable[[Doc], bool], timeout: float = 90.0) -> Doc:
        """Poll ``/cluster`` until ``ok(doc)``; LabError (with the last document) on timeout."""
        deadline = time.monotonic() + timeout
        last: Doc | str = "nothing"
        while True:
            try:
                doc = self.cluster()
                if ok(doc):
                    return doc
                last = doc
            except LabError as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                logs = "; ".join(str(m.log) for m in self.members)
                raise LabError(f"Patroni cluster: not {what} after {timeout}s; last /cluster: "
                               f"{last}; logs: {logs}")
            time.sleep(0.2)

    def wait_healthy(self, timeout: float = 90.0) -> Doc:
        """Every running member listed, one leader, every other member ``streaming``."""
        running = {m.name for m in self.members if m.pid is not None}

        def ok(doc: Doc) -> bool:
            members = doc.get("members", [])
            leaders = [x for x in members if x.get("role") == "leader"
                       and x.get("state") == "running"]
            streaming = [x for x in members if x.get("role") != "leader"
                         and x.get("state") == "streaming"]
            return ({x.get("name") for x in members} == running and len(leaders) == 1
                    and len(streaming) == len(running) - 1 and not doc.get("pause"))

        return self.wait_for("healthy", ok, timeout)

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def leader(self) -> Member:
        doc = self.cluster()
        name = next(x["name"] for x in doc["members"] if x.get("role") == "leader")
        return self.member(name)

    def replicas(self) -> list[Member]:
        lead = self.leader()
        return [m for m in self.members if m is not lead and m.pid is not None]

    def pause(self, paused: bool = True) -> None:
        """Maintenance mode on or off (``PATCH /config``), waiting until /cluster shows it."""
        m = next(m for m in self.members if m.pid is not None)
        self._request("PATCH", m, "/config", {"pause": paused})
        self.wait_for("paused" if paused else "resumed",
                      lambda doc: bool(doc.get("pause")) == paused, timeout=30)

    def stop_postgres(self, m: Member) -> None:
        """``pg_ctl stop -m fast`` on member ``m`` (Patroni restarts it unless paused)."""
        proc = subprocess.run([*RUN_AS, str(bindir(self.spec.version) / "pg_ctl"), "stop",
                               "-m", "fast", "-w", "-D", str(m.datadir)],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "HOME": str(m.folder)})
        if proc.returncode != 0:
            raise LabError(f"pg_ctl stop on {m.name}: {proc.stderr.strip()}")

    # -- faults -----------------------------------------------------------------------------
    def block_replication(self, m: Member, leader: Member) -> None:
        """Member ``m`` can no longer reach the leader's PostgreSQL (nftables in ``m``'s
        namespace: TCP reset), and the leader ends its WAL sender for ``m``: ``m``'s PostgreSQL
        keeps running in recovery without streaming."""
        m.ns.run(["nft", "-f", "-"], input=(
            f"table inet {NFT_TABLE} {{\n chain out {{\n  type filter hook output priority 0;\n"
            f"  ip daddr {leader.ipv4} tcp dport {PG_PORT} reject with tcp reset\n }}\n}}\n"))
        s = self.spec
        info = make_conninfo(hostaddr=leader.ipv4, port=PG_PORT, dbname="postgres",
                             user=s.superuser.name, password=s.superuser.password,
                             sslmode="disable", connect_timeout=5)
        with psycopg.connect(info, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_replication"
                         " WHERE application_name = %s", (m.name,))

    def unblock_replication(self, m: Member) -> None:
        """Undo :meth:`block_replication` (no-op when nothing is blocked)."""
        m.ns.run(["nft", "delete", "table", "inet", NFT_TABLE], check=False)


__all__ = ["API_PORT", "Member", "PatroniCluster", "PatroniSpec"]
