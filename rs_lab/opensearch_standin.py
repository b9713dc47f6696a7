"""A STAND-IN for OpenSearch — not OpenSearch. No real OpenSearch server can be installed on the
lab machine (none in Debian, PyPI or npm; npm "simulators" download it at run time), so
:class:`OpenSearchStandIn` is a small stdlib HTTP(S) server that answers the three requests the
pre-flight checks make exactly in the shapes OpenSearch documents (``../shared/LAB.md``,
"OpenSearch"):

* ``GET /`` → ``{"name", "cluster_name", "cluster_uuid", "version": {"distribution", "number",
  "build_type", "build_hash", "build_date", "build_snapshot", "lucene_version",
  "minimum_wire_compatibility_version", "minimum_index_compatibility_version"}, "tagline"}``
  (with the 2.x compatibility setting: ``number`` ``7.10.2`` and no ``distribution``);
* ``GET /_cat/plugins?format=json`` → one row per node and plugin,
  ``{"name": node, "component": plugin, "version": v}`` (all strings; text columns without
  ``format=json``);
* ``GET /_cluster/health`` → ``{"cluster_name", "status", "timed_out", "number_of_nodes", …,
  "active_shards_percent_as_number"}``.

Anything else: ``400 no handler found`` (``/_…``) or ``404 index_not_found_exception``. With
``tls=True`` it is HTTPS with basic auth, like the security plugin (``401 Unauthorized`` and
``WWW-Authenticate: Basic realm="OpenSearch Security"`` without valid credentials).

It proves nothing about a real OpenSearch beyond these shapes; it exists so that RS-SEARCH-01..03
can pass and fail for the right reasons in the lab.

Variants: :data:`VARIANTS` (``"3.5.0"`` healthy, ``"2.19.1"``, ``"compat-7.10.2"``,
``"missing-plugin"``, ``"red"``, ``"yellow"``) or any :class:`SearchSpec`.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from rs_lab.netns import Namespace
from rs_lab.service import LabService
from rs_lab.webbase import serve_http

if TYPE_CHECKING:  # the server process (``main``) needs only the standard library
    from rs_lab.pki import Issued, Pki

REQUIRED_PLUGINS = ("analysis-icu", "analysis-phonenumber")

_BUILD = {  # version → (lucene, min wire, min index, build date)
    "3.5.0": ("10.3.2", "2.19.0", "2.0.0", "2026-02-10T18:07:21.331528Z"),
    "2.19.1": ("9.12.1", "7.10.0", "7.0.0", "2025-02-27T01:16:47.726162386Z"),
}


@dataclass
class SearchSpec:
    """What the stand-in claims to be.

    ``version``: the real version (plugins report it); ``reported_number``: what ``GET /`` says
    (``"7.10.2"`` for 2.x compatibility mode; default = ``version``); ``distribution``:
    ``"opensearch"`` or ``None`` (omitted). ``missing``: node index (0-based) → plugins absent
    on that node. ``status``: green/yellow/red (shard counts follow).
    """

    version: str = "3.5.0"
    reported_number: str | None = None
    distribution: str | None = "opensearch"
    nodes: int = 1
    plugins: Sequence[str] = REQUIRED_PLUGINS
    extra_plugins: Sequence[str] = ()
    missing: Mapping[int, Sequence[str]] = field(default_factory=dict)
    status: str = "green"
    cluster_name: str = "rs-search"
    node_prefix: str = "rs-search-node"
    tls: bool = False
    username: str = "admin"
    password: str = "Lab-Search-Passw0rd!"
    primary_shards: int = 5

    def node_names(self) -> list[str]:
        return [f"{self.node_prefix}{i + 1}" for i in range(self.nodes)]

    def with_(self, **changes: object) -> SearchSpec:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # -- documented response bodies ----------------------------------------------------------
    def root(self) -> dict[str, Any]:
        lucene, wire, index, date = _BUILD.get(self.version,
                                               ("9.12.1", "7.10.0", "7.0.0", _BUILD["2.19.1"][3]))
        version: dict[str, object] = {}
        if self.distribution is not None:
            version["distribution"] = self.distribution
        version.update({
            "number": self.reported_number or self.version,
            "build_type": "tar",
            "build_hash": hashlib.sha1(self.version.encode()).hexdigest(),
            "build_date": date,
            "build_snapshot": False,
            "lucene_version": lucene,
            "minimum_wire_compatibility_version": wire,
            "minimum_index_compatibility_version": index,
        })
        uuid = base64.urlsafe_b64encode(
            hashlib.sha256(self.cluster_name.encode()).digest()[:16]).decode().rstrip("=")
        return {"name": self.node_names()[0], "cluster_name": self.cluster_name,
                "cluster_uuid": uuid, "version": version,
                "tagline": "The OpenSearch Project: https://opensearch.org/"}

    def cat_plugins(self) -> list[dict[str, str]]:
        rows = []
        for i, node in enumerate(self.node_names()):
            absent = set(self.missing.get(i, ()))
            for plugin in [*self.plugins, *self.extra_plugins]:
                if plugin not in absent:
                    rows.append({"name": node, "component": plugin, "version": self.version})
        return rows

    def health(self) -> dict[str, object]:
        primaries = self.primary_shards
        replicas = primaries if self.nodes > 1 else 0
        total = primaries + replicas
        unassigned = 0
        active_primary = primaries
        if self.status == "yellow":
            unassigned = max(replicas, 1)
            if replicas == 0:
                total += 1  # a replica with nowhere to go
        elif self.status == "red":
            active_primary = primaries - 1
            unassigned = 1 + (1 if replicas else 0)
        active = total - unassigned
        body: dict[str, object] = {
            "cluster_name": self.cluster_name,
            "status": self.status,
            "timed_out": False,
            "number_of_nodes": self.nodes,
            "number_of_data_nodes": self.nodes,
        }
        if not self.version.startswith("3."):
            body["discovered_master"] = True
        body.update({
            "discovered_cluster_manager": True,
            "active_primary_shards": active_primary,
            "active_shards": active,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": unassigned,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": round(100.0 * active / total, 1) if total else 100.0,
        })
        return body


VARIANTS: dict[str, SearchSpec] = {
    "3.5.0": SearchSpec(),
    "2.19.1": SearchSpec(version="2.19.1"),
    "compat-7.10.2": SearchSpec(version="2.19.1", reported_number="7.10.2", distribution=None),
    "missing-plugin": SearchSpec(nodes=3, missing={2: ("analysis-phonenumber",)}),
    "red": SearchSpec(status="red"),
    "yellow": SearchSpec(status="yellow"),
    "three-nodes": SearchSpec(nodes=3),
}


# ---------------------------------------------------------------------------------------------
# The server (run as ``python -m rs_lab.opensearch_standin conf.json``)

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rs-lab-opensearch-standin"
    spec = SearchSpec()

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.client_address[0]} {format % args}\n")

    def _send(self, code: int, body: bytes, ctype: str,
              headers: Mapping[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, obj: object, pretty: bool) -> None:
        text = json.dumps(obj, indent=2 if pretty else None, separators=None if pretty
                          else (",", ":"))
        self._send(code, (text + ("\n" if pretty else "")).encode(),
                   "application/json; charset=UTF-8")

    def _authorized(self) -> bool:
        if not self.spec.tls:
            return True
        want = base64.b64encode(f"{self.spec.username}:{self.spec.password}".encode()).decode()
        return (self.headers.get("Authorization") or "").strip() == f"Basic {want}"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if not self._authorized():
            self._send(401, b"Unauthorized", "text/plain; charset=UTF-8",
                       {"WWW-Authenticate": 'Basic realm="OpenSearch Security"'})
            return
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        pretty = "pretty" in query
        path = parts.path.rstrip("/") or "/"
        spec = self.spec
        if self.command not in ("GET", "HEAD"):
            self._json(405, {"error": f"Incorrect HTTP method for uri [{self.path}] and method "
                                      f"[{self.command}], allowed: [GET]", "status": 405}, pretty)
        elif path == "/":
            self._json(200, spec.root(), pretty)
        elif path == "/_cluster/health":
            self._json(200, spec.health(), pretty)
        elif path == "/_cat/plugins":
            rows = spec.cat_plugins()
            if query.get("format", [""])[0] == "json":
                self._json(200, rows, pretty)
            else:
                lines = [f"{r['name']} {r['component']} {r['version']}" for r in rows]
                if "v" in query:
                    lines.insert(0, "name component version")
                self._send(200, ("\n".join(lines) + "\n").encode(), "text/plain; charset=UTF-8")
        elif path.startswith("/_"):
            self._json(400, {"error": f"no handler found for uri [{self.path}] and method "
                                      f"[{self.command}]"}, pretty)
        else:
            index = path.strip("/").split("/")[0]
            reason = f"no such index [{index}]"
            err = {"type": "index_not_found_exception", "reason": reason, "index": index,
                   "resource.type": "index_or_alias", "resource.id": index}
            self._json(404, {"error": {"root_cause": [err], **err}, "status": 404}, pretty)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle


def serve(conf: Mapping[str, object]) -> None:
    spec_fields = {f.name for f in dataclasses.fields(SearchSpec)}
    given = cast("Mapping[str, Any]", conf["spec"])
    spec = SearchSpec(**{k: v for k, v in given.items() if k in spec_fields})
    spec.missing = {int(k): tuple(v) for k, v in dict(spec.missing).items()}
    handler = type("Handler", (_Handler,), {"spec": spec})
    serve_http(list(conf["listen"]), int(conf["port"]), handler,  # type: ignore[call-overload]
               str(conf["cert"]) if spec.tls else None, str(conf["key"]) if spec.tls else None,
               name="OpenSearch STAND-IN")


# ---------------------------------------------------------------------------------------------
# The lab service

class OpenSearchStandIn(LabService):
    """STAND-IN for an OpenSearch cluster (not OpenSearch): answers ``GET /``,
    ``/_cat/plugins?format=json`` and ``/_cluster/health`` as documented, on ``ipv4``, ``ipv6``
    and loopback at ``port`` (9200) in its own namespace.

    ``spec``: a :class:`SearchSpec` or a key of :data:`VARIANTS`. With ``spec.tls`` it serves
    HTTPS (leaf from ``pki`` for ``cert_names`` + its addresses; ``ca_path`` is the lab root)
    and demands basic auth ``spec.username``/``spec.password``. ``url`` is the base URL by
    address.
    """

    short = "search"

    def __init__(self, ns: Namespace | int, workdir: Path, spec: SearchSpec | str = "3.5.0", *,
                 port: int = 9200, pki: Pki | None = None, cert_names: Sequence[str] = ()
                 ) -> None:
        super().__init__(ns, workdir)
        self.spec = VARIANTS[spec] if isinstance(spec, str) else spec
        self.port = port
        self._pki = pki
        self.cert_names = list(cert_names)
        self.issued: Issued | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.spec.tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.ipv4}:{self.port}"

    @property
    def url6(self) -> str:
        return f"{self.scheme}://[{self.ipv6}]:{self.port}"

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.spec.username, self.spec.password) if self.spec.tls else None

    @property
    def ca_path(self) -> Path | None:
        return self._pki.root_path if self._pki is not None else None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "opensearch-standin.json"

    def _start(self) -> None:
        conf: dict[str, object] = {"port": self.port,
                                   "listen": [self.ipv4, self.ipv6, "127.0.0.1"],
                                   "spec": dataclasses.asdict(self.spec)}
        conf["spec"]["missing"] = {str(k): list(v)  # type: ignore[index]
                                   for k, v in self.spec.missing.items()}
        if self.spec.tls:
            from rs_lab.pki import Pki

            if self._pki is None:
                self._pki = Pki.create(self.workdir / "pki")
            self.issued = self._pki.issue(f"search-{self.ns.index}",
                                          [*self.cert_names, self.ipv4, self.ipv6])
            conf["cert"], conf["key"] = str(self.issued.chain_path), str(self.issued.key_path)
        self.conf_path.write_text(json.dumps(conf, indent=1))
        log = "opensearch-standin.log"
        proc = self.popen(self.python_argv("rs_lab.opensearch_standin", str(self.conf_path)),
                          log, self.python_env)
        self.wait_tcp(self.port, proc, log)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="OpenSearch STAND-IN (not OpenSearch)")
    ap.add_argument("conf", type=Path)
    args = ap.parse_args(argv)
    serve(json.loads(args.conf.read_text()))


if __name__ == "__main__":
    main()
