"""A CouchDB-compatible server in a lab namespace: PouchDB Server (not Apache CouchDB).

No CouchDB package exists in Debian 12, PyPI or npm; ``pouchdb-server`` 4.2.0 from the npm
registry (installed by ``scripts/setup-couch`` into ``$RS_LAB_COUCH_ROOT``, default
``/opt/rs-lab/couch``, like the PostgreSQL binaries) is a real server that speaks CouchDB's HTTP
API over LevelDB: databases, documents, ``_all_dbs``, ``_replicate``, and the ``_replicator``
database, whose documents run continuous replications between servers for real (a document
written on one shows up on the other).

What it does **not** do like CouchDB 2/3 (measured): ``GET /`` says
``{"express-pouchdb": "Welcome!", "version": "4.2.0", "vendor": {"name": "PouchDB authors"}}``
(its own version, no ``"couchdb"`` key); ``/_scheduler/jobs`` and ``/_scheduler/docs`` are 404;
``/_active_tasks`` is always ``[]``. Replication state is in the ``_replicator`` documents
(``_replication_state: "triggered"``, CouchDB 1.x style). A check of "CouchDB version" or of
``/_scheduler`` cannot pass against it; one of replication *working* can.

>>> with CouchServer(lease.take(), work / "couch1") as a, CouchServer(lease.take(), …) as b:
...     a.put("/kazoo"); b.put("/kazoo")
...     a.replicate("kazoo", b)          # a _replicator document on a, continuous
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import requests

from rs_lab.netns import LabError, Namespace
from rs_lab.service import LabService

__all__ = ["COUCH_PORT", "COUCH_ROOT", "CouchServer"]

COUCH_ROOT = Path(os.environ.get("RS_LAB_COUCH_ROOT", "/opt/rs-lab/couch"))
COUCH_PORT = 5984


class CouchServer(LabService):
    """PouchDB Server on ``[::]:port`` of its namespace (its lab IPv4 and IPv6, loopback)."""

    short = "couch"

    def __init__(self, ns: Namespace | int, workdir: Path, *, port: int = COUCH_PORT) -> None:
        super().__init__(ns, workdir)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.ipv4}:{self.port}"

    @property
    def url6(self) -> str:
        return f"http://[{self.ipv6}]:{self.port}"

    def _start(self) -> None:
        script = COUCH_ROOT / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"
        node = shutil.which("node")
        if node is None or not script.exists():
            raise LabError(f"{script} missing: run scripts/setup-couch")
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.json"
        config.write_text(json.dumps({"log": {"file": str(self.workdir / "couch.log"),
                                              "level": "info"}}))
        proc = self.popen([node, str(script), "--host", "::", "--port", str(self.port),
                           "--dir", str(data), "--config", str(config), "--no-color"],
                          "pouchdb-server.log")
        self.wait_tcp(self.port, proc, "pouchdb-server.log", timeout=60)

    # -- asking it ------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: object = None) -> Any:
        """One JSON request to ``url + path``; the decoded answer (errors raise)."""
        with requests.Session() as session:
            session.trust_env = False  # lab addresses only, never a proxy
            resp = session.request(method, f"{self.url}{path}", json=body, timeout=10)
            resp.raise_for_status()
            return resp.json()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def put(self, path: str, body: object = None) -> Any:
        return self.request("PUT", path, body)

    def replicate(self, db: str, target: CouchServer, doc_id: str | None = None) -> str:
        """A continuous replication of ``db`` from here to ``target``, as a ``_replicator``
        document on this server; its id."""
        doc_id = doc_id or f"{db}-to-{target.ipv4}"
        self.put(f"/_replicator/{doc_id}", {"source": f"{self.url}/{db}",
                                            "target": f"{target.url}/{db}",
                                            "continuous": True})
        return doc_id
