"""A STAND-IN for Apache CouchDB — not CouchDB — in front of a real PouchDB Server.

No CouchDB can be installed on the lab machine (no package in Debian 12, PyPI or npm;
``rs_lab.couchdb``). The one real CouchDB-API server here, PouchDB Server 4.2.0, replicates for
real but says what it is: ``GET /`` has no ``"couchdb"`` key and ``/_scheduler/docs`` is 404. A
check of "CouchDB at version ≥ 2.1" can therefore never pass against it, so
:class:`CouchDBStandin` exists for the lab's pass path of that check — and for the
``/_scheduler/docs`` path of the replication check, which nothing here could exercise otherwise.

What it does (a stdlib HTTP server, ``python -m rs_lab.couchdb_standin conf.json``):

* ``GET /`` → CouchDB's documented root response (docs.couchdb.org, api/server/common.html):
  ``{"couchdb": "Welcome", "version", "git_sha", "uuid", "features", "vendor": {"name": "The
  Apache Software Foundation"}}``; for a 1.x version the 1.x shape (``uuid``, ``version``,
  ``vendor: {name, version}``).
* ``GET /_scheduler/docs`` (versions ≥ 2.1) → the documented shape (api/server/common.html,
  "/_scheduler/docs": ``{"docs": [{database, doc_id, id, node, source, target, state, info,
  error_count, start_time, last_updated}], "offset", "total_rows"}``), **translated from the
  real replications** of the PouchDB Server behind it (its ``_replicator`` documents):
  ``triggered`` → ``running``, ``completed`` → ``completed``, ``error`` → ``crashing`` with
  ``info.error`` the reason PouchDB gave; passwords in URLs shown as ``*****``, as CouchDB shows
  them; a continuous replication's ID ends ``+continuous``, as CouchDB's do. PouchDB Server keeps
  a replication whose source or target does not answer ``triggered`` while it retries (and one
  written with ``"retry": false`` crashes the server when it gives up), where CouchDB's
  scheduler says ``crashing``: so for each ``triggered`` one the stand-in asks the source and
  the target (``GET`` the database, with the URL's login, 2 s) and says ``crashing`` with
  ``info.error`` ``"<why>: could not open <URL>"`` when one does not answer 200 (its words,
  after CouchDB's ``db_not_found: could not open …``). Why translate rather than invent: the
  replication is then real — a document written on one side shows up on the other, a dead
  target really is dead — and only the presentation is the stand-in's.
  Below 2.1: ``400 illegal_database_name``, as CouchDB 1.x answers any unknown ``/_…`` path
  (apache/couchdb#1326, #1027).
* anything else → forwarded to the PouchDB Server (``backend_port``, loopback; request bodies
  and answers whole, 30 s per request — not for continuous feeds: replications between
  stand-ins go to the PouchDB Servers' own ports).
* with ``login`` set, every request needs that basic-auth login (else ``401 unauthorized``, as
  CouchDB answers), like a CouchDB with an admin and ``require_valid_user``.

It proves nothing about a real CouchDB beyond these shapes.

>>> with CouchDBStandin(host.ns, work / "couch1", version="3.3.3") as couch:
...     requests.get(couch.url).json()["couchdb"]       # 'Welcome'
...     couch.backend.replicate("kazoo", other)          # a real replication (PouchDB Server)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from rs_lab.couchdb import CouchServer
from rs_lab.netns import Namespace
from rs_lab.service import LabService
from rs_lab.webbase import serve_http

__all__ = ["CouchDBStandin", "ask_end", "root_document", "scheduler_docs"]

STATES = {"triggered": "running", "error": "crashing", "completed": "completed"}
_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")
FEATURES = ["access-ready", "partitioned", "pluggable-storage-engines", "reshard", "scheduler"]


def _major_minor(version: str) -> tuple[int, int]:
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0]
    return parts[0], parts[1]


def root_document(version: str, uuid: str) -> dict[str, Any]:
    """``GET /`` of CouchDB ``version`` (the documented shapes of 1.x and of 2.x/3.x)."""
    vendor = "The Apache Software Foundation"
    if _major_minor(version) < (2, 0):
        return {"couchdb": "Welcome", "uuid": uuid, "version": version,
                "vendor": {"version": version, "name": vendor}}
    return {"couchdb": "Welcome", "version": version,
            "git_sha": hashlib.sha1(version.encode()).hexdigest()[:9], "uuid": uuid,
            "features": FEATURES, "vendor": {"name": vendor}}


def _shown(end: Any, port: int) -> str:
    """A source or target as CouchDB shows it: a full URL, the password ``*****``."""
    url = end.get("url", "") if isinstance(end, dict) else str(end or "")
    if "://" not in url:  # a local database name (PouchDB, CouchDB 1.x)
        url = f"http://127.0.0.1:{port}/{url}"
    return _PASSWORD.sub(r"\1*****@", url.rstrip("/") + "/")


def scheduler_docs(all_docs: Mapping[str, Any], port: int,
                   ask: Callable[[Any], str | None] = lambda end: None) -> dict[str, Any]:
    """``/_scheduler/docs`` built from PouchDB's ``_replicator/_all_docs?include_docs=true``;
    ``ask(end)`` says why a source or target does not answer (None: it does)."""
    docs = []
    for row in all_docs.get("rows", []):
        doc = row.get("doc") or {}
        if str(doc.get("_id", "")).startswith("_design/"):
            continue
        state = STATES.get(str(doc.get("_replication_state")), "initializing")
        reason = doc.get("_replication_state_reason")
        if state == "running":
            for end in (doc.get("source"), doc.get("target")):
                why = ask(end)
                if why:
                    state, reason = "crashing", f"{why}: could not open {_shown(end, port)}"
                    break
        rep_id = doc.get("_replication_id")
        if rep_id:
            rep_id = hashlib.md5(str(rep_id).encode()).hexdigest() + \
                ("+continuous" if doc.get("continuous") else "")
        info: dict[str, Any] | None = (
            {"error": str(reason)} if state == "crashing" else
            dict(doc.get("_replication_stats") or {}) or None)
        when = doc.get("_replication_state_time")
        docs.append({"database": "_replicator", "doc_id": doc.get("_id"), "id": rep_id,
                     "node": "couchdb@127.0.0.1", "source": _shown(doc.get("source"), port),
                     "target": _shown(doc.get("target"), port), "state": state, "info": info,
                     "error_count": 1 if state == "crashing" else 0, "start_time": when,
                     "last_updated": when})
    return {"docs": docs, "offset": 0, "total_rows": len(docs)}


def ask_end(end: Any, backend_port: int) -> str | None:
    """Why a replication's source or target does not answer ``GET`` (None when it does): a
    local name is the PouchDB Server's database; a URL's login goes as basic auth."""
    url = end.get("url", "") if isinstance(end, dict) else str(end or "")
    if "://" not in url:
        url = f"http://127.0.0.1:{backend_port}/{url}"
    parts = urllib.parse.urlsplit(url)
    headers = dict(end.get("headers") or {}) if isinstance(end, dict) else {}
    if parts.username is not None:
        login = f"{urllib.parse.unquote(parts.username)}:" \
                f"{urllib.parse.unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
    netloc = parts.hostname or ""
    netloc = (f"[{netloc}]" if ":" in netloc else netloc) + \
        (f":{parts.port}" if parts.port else "")
    plain = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    try:
        with urllib.request.urlopen(urllib.request.Request(plain, headers=headers),
                                    timeout=2) as resp:
            return None if resp.status == 200 else f"http_{resp.status}"
    except urllib.error.HTTPError as exc:
        return "db_not_found" if exc.code == 404 else f"http_{exc.code}"
    except OSError as exc:
        inner = getattr(exc, "reason", exc)
        return str(getattr(inner, "strerror", None) or inner).lower().replace(" ", "_")


# ---------------------------------------------------------------------------------------------
# The server process (stdlib only)

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    conf: Mapping[str, Any] = {}

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.client_address[0]} {format % args}\n")

    def _send(self, code: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(code)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "date",
                                   "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Server", f"CouchDB/{self.conf['version']} (Erlang OTP/25)")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, obj: object) -> None:
        self._send(code, (json.dumps(obj) + "\n").encode(),
                   {"Content-Type": "application/json", "Cache-Control": "must-revalidate"})

    def _authorized(self) -> bool:
        login = self.conf.get("login")
        if not login:
            return True
        want = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        return (self.headers.get("Authorization") or "").strip() == f"Basic {want}"

    def _backend(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes,
                                                                             dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", int(self.conf["backend_port"]),
                                          timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() in ("content-type", "accept")}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read(), dict(resp.getheaders())
        finally:
            conn.close()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if not self._authorized():
            self._json(401, {"error": "unauthorized",
                             "reason": "Name or password is incorrect."})
            return
        path = urllib.parse.urlsplit(self.path).path.rstrip("/") or "/"
        version = str(self.conf["version"])
        if self.command in ("GET", "HEAD") and path == "/":
            self._json(200, root_document(version, str(self.conf["uuid"])))
        elif path.startswith("/_scheduler"):
            if _major_minor(version) < (2, 1):
                self._json(400, {"error": "illegal_database_name", "reason":
                                 "Name: '_scheduler'. Only lowercase characters (a-z), digits "
                                 "(0-9), and any of the characters _, $, (, ), +, -, and / are "
                                 "allowed. Must begin with a letter."})
            elif path == "/_scheduler/docs" and self.command == "GET":
                status, raw, _ = self._backend("GET", "/_replicator/_all_docs?include_docs=true",
                                               None)
                rows = json.loads(raw) if status == 200 else {"rows": []}
                backend = int(self.conf["backend_port"])
                self._json(200, scheduler_docs(rows, int(self.conf["port"]),
                                               lambda end: ask_end(end, backend)))
            else:
                self._json(404, {"error": "not_found", "reason": "missing"})
        else:
            status, raw, headers = self._backend(self.command, self.path, body)
            self._send(status, raw, headers)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle


def serve(conf: Mapping[str, Any]) -> None:
    handler = type("Handler", (_Handler,), {"conf": conf})
    serve_http(list(conf["listen"]), int(conf["port"]), handler,
               name=f"CouchDB {conf['version']} STAND-IN")


# ---------------------------------------------------------------------------------------------
# The lab service

class CouchDBStandin(LabService):
    """STAND-IN for CouchDB ``version`` (not CouchDB; see the module docstring) on ``port`` of
    its namespace (IPv4, IPv6, loopback), in front of a real PouchDB Server on
    ``backend_port`` (``backend``, started and stopped with it). ``login``: (user, password)
    every request must carry, or None."""

    short = "couchsi"

    def __init__(self, ns: Namespace | int, workdir: Path, *, version: str = "3.3.3",
                 port: int = 5984, backend_port: int = 5985,
                 login: tuple[str, str] | None = None) -> None:
        super().__init__(ns, workdir)
        self.version, self.port, self.login = version, port, login
        self.backend = CouchServer(self.ns, self.workdir / "pouchdb", port=backend_port)

    @property
    def url(self) -> str:
        return f"http://{self.ipv4}:{self.port}"

    @property
    def url6(self) -> str:
        return f"http://[{self.ipv6}]:{self.port}"

    def _start(self) -> None:
        self.backend.start()
        conf = {"port": self.port, "backend_port": self.backend.port, "version": self.version,
                "listen": [self.ipv4, self.ipv6, "127.0.0.1"], "login": self.login,
                "uuid": hashlib.md5(f"{self.ns.name}:{self.port}".encode()).hexdigest()}
        path = self.workdir / "couchdb-standin.json"
        path.write_text(json.dumps(conf))
        path.chmod(0o600)
        log = "couchdb-standin.log"
        proc = self.popen(self.python_argv("rs_lab.couchdb_standin", str(path)), log,
                          self.python_env)
        self.wait_tcp(self.port, proc, log)

    def _stop(self) -> None:
        self.backend.stop()

    def pids(self) -> list[int]:
        return [*super().pids(), *self.backend.pids()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="CouchDB STAND-IN (not CouchDB)")
    ap.add_argument("conf", type=Path)
    serve(json.loads(ap.parse_args(argv).conf.read_text()))


if __name__ == "__main__":
    main()
