"""A MongoDB-compatible server in a lab namespace: NX-27017 (not MongoDB).

MongoDB itself cannot be installed here (no Debian package; npm's ``mongodb-memory-server`` and
``mongodb-prebuilt`` download the server at install or run time, and only the package registries
are reachable; FerretDB is a Go program that needs a newer Go than Debian 12 has). NX-27017
(PyPI ``nx-27017`` 0.8.1, MIT, in its own virtualenv ``$RS_LAB_MONGO``, default
``/opt/rs-lab/mongo``, made by ``scripts/setup-mongo``) is a real server that speaks MongoDB's
wire protocol (OP_MSG) over SQLite — what FerretDB does over PostgreSQL: pymongo connects,
``hello``/``ping``/``buildInfo``/``serverStatus``/``listDatabases`` answer, documents are
inserted, found, updated and deleted for real, one SQLite file per database.

What it does **not** do like MongoDB (measured): it reports a fixed version ``7.0.0`` and
``process: nx_27017`` in ``buildInfo``/``serverStatus`` (pymongo's ``server_info()`` shows no
``version``); no replica sets or sharding (``replSetGetStatus`` answers ``ok`` with an empty
result); no authentication. A check of the MongoDB *version* reads a claim, not a build.

>>> with MongoServer(lease.take(), work / "mongo") as mongo:
...     mongo.client().admin.command("ping")        # pymongo, by address
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rs_lab.netns import LabError, Namespace
from rs_lab.service import LabService

if TYPE_CHECKING:
    import pymongo

__all__ = ["MONGO_PORT", "MONGO_ROOT", "MongoServer"]

MONGO_ROOT = Path(os.environ.get("RS_LAB_MONGO", "/opt/rs-lab/mongo"))
MONGO_PORT = 27017


class MongoServer(LabService):
    """NX-27017 on ``port`` at every address of its namespace (lab IPv4 and IPv6, loopback)."""

    short = "mongo"

    def __init__(self, ns: Namespace | int, workdir: Path, *, port: int = MONGO_PORT) -> None:
        super().__init__(ns, workdir)
        self.port = port

    @property
    def uri(self) -> str:
        return f"mongodb://{self.ipv4}:{self.port}/?directConnection=true"

    def _start(self) -> None:
        binary = MONGO_ROOT / "bin" / "nx-27017"
        if not binary.exists():
            raise LabError(f"{binary} missing: run scripts/setup-mongo")
        w = self.workdir
        (w / "data").mkdir(parents=True, exist_ok=True)
        # "" = every address of the namespace, one socket per family ("::" is IPv6-only here)
        proc = self.popen([str(binary), "--host", "", "-p", str(self.port),
                           "--data-dir", str(w / "data"), "--db", str(w / "nx-27017.db"),
                           "--log-file", str(w / "nx-27017.log"),
                           "--pid-file", str(w / "nx-27017.pid")], "nx-27017.out")
        self.wait_tcp(self.port, proc, "nx-27017.out", timeout=30)

    def client(self, address: str | None = None) -> pymongo.MongoClient[dict[str, Any]]:
        """A pymongo client to ``address`` (default ``ipv4``), direct, with timeouts."""
        import pymongo

        host = address or self.ipv4
        return pymongo.MongoClient(f"[{host}]" if ":" in host else host, self.port,
                                   directConnection=True, serverSelectionTimeoutMS=5000,
                                   connectTimeoutMS=5000, socketTimeoutMS=10000)
