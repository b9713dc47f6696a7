"""RabbitMQ in lab namespaces: Debian's real ``rabbitmq-server`` (3.10, Erlang 25), one node or a
cluster of nodes in namespaces of their own.

The package's own service never starts (``policy-rc.d``; ``scripts/setup`` installs
``rabbitmq-server``). Each :class:`RabbitNode` runs ``/usr/lib/rabbitmq/bin/rabbitmq-server``
(it execs ``erl``: the PID we hold is the node's) with everything under its work folder:
config, Mnesia, logs (to its console log), enabled plugins (the management plugin: the HTTP API on
15672), and ``HOME`` with the cluster's Erlang cookie. Its own ``epmd`` runs in the namespace
as a process of ours (``-start_epmd false`` for the node), so stop leaves nothing behind.

Node names are ``rabbit@<its lab IPv4>`` (long names, ``RABBITMQ_USE_LONGNAME``): the host part
is an address, so neither Erlang nor the CLI resolves a name anywhere (``../shared/LAB.md``,
"Safety first"). AMQP listens on 5672 at the lab IPv4 and IPv6 addresses; the distribution port
is 25672. The user ``spec.user`` (administrator) may log in from anywhere.

A :class:`RabbitCluster` is ``nodes`` nodes at ``index``, ``index + 1`` … that form one cluster
through classic peer discovery (node *k* knows nodes 1…*k* and joins the running ones); it is up
when the management API of every node lists all of them running.

>>> with RabbitCluster(lease.block(2)[0], work / "rmq") as cluster:
...     cluster.running_nodes()              # ['rabbit@10.213.0.x', 'rabbit@10.213.0.y']
...     cluster.nodes[0].overview()["rabbitmq_version"]       # '3.10.8'
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from rs_lab.netns import LabError, Namespace
from rs_lab.service import LabService

__all__ = ["AMQP_PORT", "MANAGEMENT_PORT", "RabbitCluster", "RabbitNode", "RabbitSpec"]

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
AMQP_PORT = 5672
DIST_PORT = 25672
EPMD_PORT = 4369
MANAGEMENT_PORT = 15672


@dataclass(frozen=True)
class RabbitSpec:
    """What a lab RabbitMQ looks like: its administrator and the cluster's Erlang cookie."""

    user: str = "rs"
    password: str = "lab-rabbit-pw"
    cookie: str = field(default_factory=lambda: secrets.token_hex(16).upper())
    management: bool = True


class RabbitNode(LabService):
    """One RabbitMQ node (see the module docstring); ``peers``: node names it may join."""

    short = "rmq"

    def __init__(self, ns: Namespace | int, workdir: Path, spec: RabbitSpec | None = None, *,
                 peers: Sequence[str] = (), boot_timeout: float = 90.0) -> None:
        super().__init__(ns, workdir)
        self.spec = spec or RabbitSpec()
        self.peers = list(peers)
        self.boot_timeout = boot_timeout

    @property
    def node_name(self) -> str:
        return f"rabbit@{self.ipv4}"

    @property
    def api(self) -> str:
        return f"http://{self.ipv4}:{MANAGEMENT_PORT}/api"

    def env(self) -> dict[str, str]:
        """The node's (and its CLI's) environment: everything under ``workdir``."""
        w = self.workdir
        return {"HOME": str(w / "home"), "RABBITMQ_CONF_ENV_FILE": "/dev/null",
                "RABBITMQ_NODENAME": self.node_name, "RABBITMQ_USE_LONGNAME": "true",
                "RABBITMQ_CONFIG_FILE": str(w / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(w / "advanced.config"),
                "RABBITMQ_MNESIA_BASE": str(w / "mnesia"), "RABBITMQ_LOG_BASE": str(w / "log"),
                "RABBITMQ_LOGS": "-", "RABBITMQ_PID_FILE": str(w / "rabbit.pid"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(w / "enabled_plugins"),
                "RABBITMQ_FEATURE_FLAGS_FILE": str(w / "feature_flags"),
                "RABBITMQ_DIST_PORT": str(DIST_PORT),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",
                "ERL_EPMD_PORT": str(EPMD_PORT), "ERL_CRASH_DUMP": str(w / "erl_crash.dump"),
                "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def config_text(self) -> str:
        s = self.spec
        lines = [f"listeners.tcp.1 = {self.ipv4}:{AMQP_PORT}",
                 f"listeners.tcp.2 = {self.ipv6}:{AMQP_PORT}",
                 f"default_user = {s.user}", f"default_pass = {s.password}",
                 "default_user_tags.administrator = true", "loopback_users = none",
                 "log.console = true", "log.console.level = info", "log.file = false",
                 f"management.tcp.ip = {self.ipv4}", f"management.tcp.port = {MANAGEMENT_PORT}"]
        if self.peers:
            lines.append("cluster_formation.peer_discovery_backend = classic_config")
            lines += [f"cluster_formation.classic_config.nodes.{n} = {peer}"
                      for n, peer in enumerate(self.peers, 1)]
        return "\n".join(lines) + "\n"

    def _start(self) -> None:
        if not SERVER.exists() or shutil.which("epmd") is None:
            raise LabError("rabbitmq-server missing: scripts/setup installs it (apt)")
        w = self.workdir
        home = w / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(self.spec.cookie)
        cookie.chmod(0o400)
        (w / "rabbitmq.conf").write_text(self.config_text())
        (w / "rabbitmq.conf").chmod(0o600)
        plugins = "[rabbitmq_management]." if self.spec.management else "[]."
        (w / "enabled_plugins").write_text(plugins + "\n")
        epmd = self.popen(["epmd", "-port", str(EPMD_PORT)], "epmd.log")
        self.wait_tcp(EPMD_PORT, epmd, "epmd.log")
        env = self.env()
        node = self.popen(["env", *(f"{k}={v}" for k, v in env.items()), str(SERVER)],
                          "rabbitmq.log")
        self.wait_tcp(AMQP_PORT, node, "rabbitmq.log", timeout=self.boot_timeout)
        if self.spec.management:
            self.wait_tcp(MANAGEMENT_PORT, node, "rabbitmq.log", timeout=self.boot_timeout)

    # -- asking it ------------------------------------------------------------------------------
    def get(self, path: str) -> Any:
        """``GET /api<path>`` of the management plugin (JSON), as the administrator."""
        with requests.Session() as session:
            session.trust_env = False  # lab addresses only, never a proxy
            resp = session.get(f"{self.api}{path}", auth=(self.spec.user, self.spec.password),
                               timeout=5)
            resp.raise_for_status()
            return resp.json()

    def overview(self) -> dict[str, Any]:
        """``GET /api/overview``: versions, cluster name, listeners."""
        doc: dict[str, Any] = self.get("/overview")
        return doc

    def running_nodes(self) -> list[str]:
        """Names of the cluster's nodes that this node sees running (``GET /api/nodes``)."""
        return sorted(n["name"] for n in self.get("/nodes") if n.get("running"))

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``rabbitmqctl -n <this node> args…`` inside the namespace (the node's cookie)."""
        env = self.env()
        argv = ["env", *(f"{k}={v}" for k, v in env.items()), str(CTL), "-n", self.node_name,
                *args]
        return self.ns.run(argv, check=False, timeout=timeout)


class RabbitCluster(LabService):
    """``nodes`` RabbitMQ nodes clustered (see the module docstring). The cluster's ``ns`` and
    addresses are its first node's; every node has a namespace of its own."""

    short = "rmq"

    def __init__(self, index: int, workdir: Path, spec: RabbitSpec | None = None, *,
                 nodes: int = 2, timeout: float = 120.0) -> None:
        super().__init__(index, workdir, ns_short=f"rmq{index}")
        self.spec = spec or RabbitSpec()
        self.timeout = timeout
        names = [f"rabbit@{Namespace('x', index + i).ipv4}" for i in range(nodes)]
        self.nodes = [RabbitNode(self.ns if i == 0 else index + i, workdir / f"node{i + 1}",
                                 self.spec, peers=names[:i + 1])
                      for i in range(nodes)]

    def _start(self) -> None:
        # Node 1 first: node k joins the running ones when it boots (classic peer discovery).
        self.nodes[0].start()
        with ThreadPoolExecutor(max_workers=max(1, len(self.nodes) - 1)) as pool:
            for future in [pool.submit(n.start) for n in self.nodes[1:]]:
                future.result()
        self.wait_clustered()

    def _stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def pids(self) -> list[int]:
        return [pid for n in self.nodes for pid in n.pids()]

    def owned_namespaces(self) -> list[Namespace]:
        return [ns for n in self.nodes for ns in n.owned_namespaces()] + \
            super().owned_namespaces()

    def running_nodes(self) -> list[str]:
        return self.nodes[0].running_nodes()

    def wait_clustered(self) -> None:
        """Until every node lists every node running (LabError with the last view)."""
        want = sorted(n.node_name for n in self.nodes)
        deadline = time.monotonic() + self.timeout
        views: dict[str, object] = {}
        while time.monotonic() < deadline:
            for n in self.nodes:
                try:
                    views[n.node_name] = n.running_nodes()
                except (requests.RequestException, ValueError) as exc:
                    views[n.node_name] = str(exc)
            if all(v == want for v in views.values()):
                return
            time.sleep(0.5)
        raise LabError(f"RabbitMQ cluster not formed in {self.timeout}s: {views}")

