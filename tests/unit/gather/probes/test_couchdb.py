"""The CouchDB probe over real sockets: a real HTTP server on loopback answering CouchDB's
documented shapes (or 404 where CouchDB 1.x and PouchDB Server do), a port nobody listens on,
a server that wants a login. The lab tier runs the probe against PouchDB Server itself."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.probes import couchdb as probe
from rs_preflight.gather.probes.services import LoginRefused

LOOPBACK = "127.0.0.1"
LOGIN = ("admin", "Qpw-loop-1234")


class Couch(BaseHTTPRequestHandler):
    """Answers ``routes`` (path → JSON); 404 elsewhere; 401 without the login when asked."""

    routes: ClassVar[dict[str, Any]] = {}
    login: ClassVar[bool] = False

    def do_GET(self) -> None:
        want = "Basic " + base64.b64encode(":".join(LOGIN).encode()).decode()
        if self.login and self.headers.get("Authorization") != want:
            self._send(401, {"error": "unauthorized", "reason": "Name or password is incorrect."})
        elif self.path in self.routes:
            self._send(200, self.routes[self.path])
        else:
            self._send(404, {"error": "not_found", "reason": "missing"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[type[Couch], int]]:
    handler = type("Handler", (Couch,), {"routes": {}, "login": False})
    httpd = ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_root_and_the_scheduler_when_the_server_has_one(server: tuple[type[Couch], int]
                                                        ) -> None:
    handler, port = server
    handler.routes = {"/": {"couchdb": "Welcome", "version": "3.3.3"}, probe.SCHEDULER: {
        "docs": [{"doc_id": "a", "id": "x+continuous", "state": "running",
                  "source": "http://h1:5984/k", "target": "http://h2:5984/k"}],
        "offset": 0, "total_rows": 1}}
    assert probe.root(LOOPBACK, port, timeout=5, login=None)["version"] == "3.3.3"
    got = probe.replications(LOOPBACK, port, timeout=5, login=None)
    assert (got.endpoint, got.via) == (f"{LOOPBACK}:{port}", "/_scheduler/docs")
    assert [(r.doc_id, r.state, r.continuous) for r in got.items] == [("a", "running", True)]


def test_no_scheduler_falls_back_to_the_replicator_documents(
        server: tuple[type[Couch], int]) -> None:
    handler, port = server
    got = probe.replications(LOOPBACK, port, timeout=5, login=None)
    assert (got.via, got.items) == ("_replicator", ())  # no _replicator database: none
    handler.routes = {probe.REPLICATOR: {"rows": [{"id": "r", "doc": {
        "_id": "r", "source": "k", "target": "http://h2:5984/k", "continuous": True,
        "_replication_state": "triggered"}}]}}
    got = probe.replications(LOOPBACK, port, timeout=5, login=None)
    assert [(r.doc_id, r.state, r.source_host) for r in got.items] == [("r", "triggered", None)]


def test_a_server_wanting_a_login_is_refused_without_it_and_answers_with_it(
        server: tuple[type[Couch], int]) -> None:
    handler, port = server
    handler.login, handler.routes = True, {"/": {"couchdb": "Welcome", "version": "3.3.3"}}
    with pytest.raises(LoginRefused, match=r"answered HTTP 401 \(no login given\)"):
        probe.root(LOOPBACK, port, timeout=5, login=None)
    with pytest.raises(LoginRefused, match="the login was refused") as caught:
        probe.root(LOOPBACK, port, timeout=5, login=("admin", "wrong-pw-1"))
    assert "wrong-pw-1" not in str(caught.value)
    assert probe.root(LOOPBACK, port, timeout=5, login=LOGIN)["couchdb"] == "Welcome"


def test_nobody_listening_is_unreachable_and_html_is_not_json(
        server: tuple[type[Couch], int]) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind((LOOPBACK, 0))
        free = s.getsockname()[1]
    with pytest.raises(Unreachable, match=f"GET / at {LOOPBACK}:{free}"):
        probe.root(LOOPBACK, free, timeout=2, login=None)
    handler, port = server
    handler.routes = {"/": ["not", "an", "object"]}
    with pytest.raises(ProbeError, match="JSON that is not an object"):
        probe.root(LOOPBACK, port, timeout=5, login=None)
