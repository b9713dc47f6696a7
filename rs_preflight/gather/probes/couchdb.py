"""CouchDB as its clients see it (seeds/001's database servers): ``GET /`` and the replications.

``GET /`` answers CouchDB's welcome (``{"couchdb": "Welcome", "version": "3.3.3", …}``, or
another server's own keys: PouchDB Server says ``"express-pouchdb"``). The replications come from
``GET /_scheduler/docs`` (CouchDB ≥ 2.1: every ``_replicator`` document's state and error), and
where there is none (CouchDB 1.x, PouchDB Server) from the ``_replicator`` database's documents
(``_replication_state``: triggered, error, completed).

Replication documents carry credentials — ``http://user:password@host/db``, or ``{"url": …,
"headers": {"Authorization": "Basic …"}}`` — that are not the site's: every URL and reason
leaves this module scrubbed (userinfo stripped, the documents' passwords masked wherever they
reappear, e.g. in an error message quoting the URL). Plain HTTP with the site's login; every
request has a timeout; addresses only (the caller gives one: ``probes.where``).

>>> root("192.0.2.41", 5984, timeout=5, login=("admin", "…"))["version"]
'3.3.3'
>>> [r.state for r in replications("192.0.2.41", 5984, timeout=5, login=None).items]
['running', 'running']
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.probes.http import brief, not_accepted, session
from rs_preflight.gather.probes.records import Replication, Replications
from rs_preflight.gather.probes.services import LoginRefused, endpoint
from rs_preflight.spec.redact import MASK, variants

SCHEDULER = "/_scheduler/docs"
REPLICATOR = "/_replicator/_all_docs?include_docs=true"
Login = tuple[str, str] | None
# scheme://userinfo@ — the userinfo goes, whatever it holds
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/@\"'<>]*@")


def get(address: str, port: int, path: str, *, timeout: float, login: Login,
        missing: tuple[int, ...] = (404,)) -> Any:
    """``GET path`` as JSON; None when the status is one of ``missing``. Raises Unreachable
    (nothing accepted), LoginRefused (401/403) or ProbeError (another status, not JSON)."""
    where = endpoint(address, port)
    asking = session()
    try:
        resp = asking.get(f"http://{where}{path}", auth=login, timeout=timeout,
                          allow_redirects=False)
    except requests.RequestException as exc:
        cls = Unreachable if not_accepted(exc) else ProbeError
        raise cls(f"GET {path} at {where}: {brief(exc, timeout)}") from exc
    finally:
        asking.close()
    if resp.status_code in (401, 403):
        raise LoginRefused(f"GET {path} at {where} answered HTTP {resp.status_code} "
                           f"({'no login given' if login is None else 'the login was refused'})")
    if resp.status_code in missing:
        return None
    if resp.status_code != 200:
        raise ProbeError(f"GET {path} at {where} answered HTTP {resp.status_code}")
    try:
        return resp.json()
    except ValueError as exc:
        raise ProbeError(f"GET {path} at {where} did not answer JSON") from exc


def root(address: str, port: int, *, timeout: float, login: Login) -> dict[str, Any]:
    """What ``GET /`` says (a JSON object)."""
    doc = get(address, port, "/", timeout=timeout, login=login)
    if not isinstance(doc, dict):
        raise ProbeError(f"GET / at {endpoint(address, port)} answered "
                         f"{'HTTP 404' if doc is None else 'JSON that is not an object'}")
    return doc


def replications(address: str, port: int, *, timeout: float, login: Login) -> Replications:
    """The server's replications: ``/_scheduler/docs``, else the ``_replicator`` docs (no
    ``_replicator`` database: none). No scheduler is 404 (PouchDB Server) or 400
    ``illegal_database_name`` (CouchDB 1.x and 2.0 take ``_scheduler`` for a database name)."""
    where = endpoint(address, port)
    doc = get(address, port, SCHEDULER, timeout=timeout, login=login, missing=(400, 404))
    if doc is not None:
        return Replications(where, SCHEDULER, tuple(from_scheduler(doc)))
    doc = get(address, port, REPLICATOR, timeout=timeout, login=login)
    return Replications(where, "_replicator", tuple(from_replicator(doc or {})))


def from_scheduler(doc: Any) -> list[Replication]:
    """``/_scheduler/docs``'s ``docs`` (CouchDB's documented shape; ``info`` is
    ``{"error": …}`` in 3.x, a string in 2.x). Continuous from the replication ID's options
    (``<hash>+continuous``)."""
    rows = doc.get("docs") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise ProbeError(f"{SCHEDULER} did not answer a list of docs")
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        info, rep_id = row.get("info"), row.get("id")
        reason = info.get("error") if isinstance(info, dict) else info
        if reason is None and row.get("state") in ("crashing", "failed"):
            reason = row.get("last_error")  # not documented; said when present
        continuous = None if not isinstance(rep_id, str) else "+continuous" in rep_id
        out.append(_replication(row, str(row.get("doc_id") or rep_id or "?"),
                                str(row.get("state") or "unknown"), continuous, reason))
    return out


def from_replicator(doc: Any) -> list[Replication]:
    """The ``_replicator`` database's documents (``_all_docs?include_docs=true``), design
    documents left out."""
    rows = doc.get("rows", []) if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise ProbeError(f"{REPLICATOR} did not answer rows of documents")
    out = []
    for row in rows:
        body = row.get("doc") if isinstance(row, dict) else None
        if not isinstance(body, dict) or str(body.get("_id", "")).startswith("_design/"):
            continue
        continuous = bool(body.get("continuous") or body.get("live"))
        state = str(body.get("_replication_state") or "not started")
        out.append(_replication(body, str(body.get("_id")), state, continuous,
                                body.get("_replication_state_reason")))
    return out


def _replication(body: Mapping[str, Any], doc_id: str, state: str, continuous: bool | None,
                 reason: Any) -> Replication:
    secrets = _secrets(body.get("source")) | _secrets(body.get("target"))
    source, source_host = _end(body.get("source"), secrets)
    target, target_host = _end(body.get("target"), secrets)
    error = scrub(str(reason), secrets) if reason not in (None, "") else None
    return Replication(scrub(doc_id, secrets), source, target, source_host, target_host, state,
                       continuous, error)


def _url(end: Any) -> str:
    """A source or target as text: a URL, a database name, or ``{"url": …}``."""
    if isinstance(end, dict):
        end = end.get("url", "")
    return str(end or "")


def _secrets(end: Any) -> set[str]:
    """The passwords a source or target carries: its URL's userinfo, its Authorization
    header (Basic ``user:password``, and the header value itself)."""
    out: set[str] = set()
    parts = urlsplit(_url(end)) if "://" in _url(end) else None
    if parts is not None and parts.password:
        out |= {parts.password, unquote(parts.password)}
    headers = end.get("headers") if isinstance(end, dict) else None
    auth = headers.get("Authorization") if isinstance(headers, dict) else None
    if isinstance(auth, str) and auth.strip():
        out.add(auth.split(None, 1)[-1])
        try:
            user_pass = base64.b64decode(auth.split(None, 1)[-1], validate=True).decode()
            out.add(user_pass.partition(":")[2])
        except (binascii.Error, UnicodeDecodeError):
            pass
    return {s for s in out if s}


def _end(end: Any, secrets: Iterable[str]) -> tuple[str, str | None]:
    """(shown URL, its host in lower case) — host None for a database of the server itself."""
    text = _url(end)
    if "://" not in text:
        return scrub(text, secrets), None
    try:
        host = urlsplit(text).hostname
    except ValueError:
        host = None
    return scrub(text, secrets), (host or "").lower() or None


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every URL's userinfo stripped and each of ``secrets`` masked (raw,
    URL-encoded, JSON-escaped).

    >>> scrub("http://adm:pw-1234@h:5984/db failed", ["pw-1234"])
    'http://h:5984/db failed'
    """
    text = _USERINFO.sub(r"\1", text)
    for secret in secrets:
        for spelled in sorted(variants(secret) | {secret}, key=len, reverse=True):
            if len(spelled) >= 3:
                text = text.replace(spelled, MASK)
    return text


__all__ = ["REPLICATOR", "SCHEDULER", "Login", "from_replicator", "from_scheduler", "get",
           "replications", "root", "scrub"]
