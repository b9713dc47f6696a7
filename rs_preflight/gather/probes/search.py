"""OpenSearch as R-Service's job and app hosts reach it (RS-SEARCH-*): three GETs per URL.

``GET /``, ``GET /_cat/plugins?format=json`` and ``GET /_cluster/health`` on each
``ELASTICSEARCH_URLS`` entry, through :class:`~rs_preflight.gather.probes.http.PinnedAdapter` (the
URL's name pinned to an address from the site's resolvers; never the runner's). Credentials in
a URL (``https://user:pass@host:9200``) are sent as basic auth and never shown: messages name
:func:`shown` URLs only. Certificates are verified against the site's CA bundle or the system
store.

>>> seen = survey("192.0.2.50", "https://search1.example.com:9200", timeout=5, verify=True)
>>> seen.root["version"]["number"], len(seen.plugins), seen.health["status"]
('3.5.0', 2, 'green')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.probes.http import PinnedAdapter
from rs_preflight.gather.probes.http import session as http_session
from rs_preflight.spec.redact import safe_url

PATHS = {"root": "/", "plugins": "/_cat/plugins?format=json", "health": "/_cluster/health"}


@dataclass
class Seen:
    """What one URL answered (None where that request failed: ``errors`` says why)."""

    url: str
    root: dict[str, Any] | None = None
    plugins: list[dict[str, Any]] | None = None
    health: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)


def urls(value: str | None) -> list[str]:
    """The entries of ``ELASTICSEARCH_URLS`` (comma separated; a bare host gets http://)."""
    out = []
    for raw in (value or "").split(","):
        raw = raw.strip()
        if raw:
            out.append(raw if "://" in raw else f"http://{raw}")
    return out


def shown(url: str) -> str:
    """``url`` without any user:password part, for messages. Never raises: a URL that does
    not parse (a bad port) is shown through ``redact.safe_url``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = host + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return safe_url(url)
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def survey(address: str, url: str, *, timeout: float, verify: bool | str) -> Seen:
    """The three GETs on ``url`` (connecting to ``address``). Raises Unreachable when the
    address does not answer at all; other failures are kept per request in ``errors``."""
    base = url.rstrip("/")
    name = (urlsplit(url).hostname or "").lower()
    seen = Seen(shown(url))
    session = http_session()
    adapter = PinnedAdapter({name: address})
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    try:
        for key, path in PATHS.items():
            try:
                resp = session.get(base + path, timeout=timeout, verify=verify,
                                   allow_redirects=False)
            except requests.ConnectionError as exc:
                if isinstance(exc, requests.exceptions.SSLError):
                    seen.errors[key] = f"TLS: {_reason(exc)}"
                    continue
                raise Unreachable(f"{seen.url} at {address}: {_reason(exc)}") from exc
            except requests.RequestException as exc:
                seen.errors[key] = _reason(exc)
                continue
            if resp.status_code != 200:
                hint = " (credentials missing or wrong)" if resp.status_code in (401, 403) \
                    else ""
                seen.errors[key] = f"GET {path} answered {resp.status_code}{hint}"
                continue
            try:
                body = resp.json()
            except ValueError:
                seen.errors[key] = f"GET {path} did not answer JSON"
                continue
            _keep(seen, key, body, path)
    finally:
        session.close()
    return seen


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause, said briefly (requests wraps urllib3 wraps the socket error)."""
    inner: BaseException = exc
    while inner.__context__ is not None and not isinstance(inner, OSError):
        inner = inner.__context__
    return f"{type(exc).__name__}: {inner}"


def _keep(seen: Seen, key: str, body: Any, path: str) -> None:
    wanted = list if key == "plugins" else dict
    if not isinstance(body, wanted):
        seen.errors[key] = f"GET {path} answered an unexpected {type(body).__name__}"
    else:
        setattr(seen, key, body)


__all__ = ["PATHS", "ProbeError", "Seen", "shown", "survey", "urls"]
