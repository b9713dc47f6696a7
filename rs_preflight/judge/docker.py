"""Judges of Docker: engine running (RS-DOCKER-01), Compose v2 (02), log rotation (03)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool, as Docker reads it


def engine(version: Mapping[str, Any]) -> Verdict:
    expected = "docker version answers from a running daemon"
    if not version["installed"]:
        return failed("Docker is not installed (docker: command not found)", expected,
                      "not installed")
    if not version["server"]:
        return failed(f"the Docker daemon does not answer: {version['error'] or 'no server'}",
                      expected, f"client {version['client']}, no server")
    return passed(f"Docker Engine {version['server']} runs", expected,
                  f"server {version['server']}")


def compose(info: Mapping[str, Any], min_major: int) -> Verdict:
    expected = f"docker compose version >= {min_major}"
    version = info.get("version")
    if not version:
        return failed(f"Docker Compose v2 is missing: {info.get('error')}", expected,
                      "not available")
    leading = re.match(r"\d+", version)
    major = int(leading.group(0)) if leading else 0
    if major < min_major:
        return failed(f"Docker Compose {version} is older than v{min_major}", expected, version)
    return passed(f"Docker Compose {version}", expected, version)


def size_bytes(text: str) -> int | None:
    match = _SIZE.match(str(text))
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def log_rotation(daemon: Mapping[str, Any], max_size: str, max_file: int,
                 compress: bool = False) -> Verdict:
    """RS-DOCKER-03. json-file (explicit or default) must set max-size and max-file;
    ``local`` and ``journald`` rotate on their own; larger than recommended is a warning.
    With ``compress`` (a standard that asks for it, seeds/002), ``compress: "true"`` too: its
    absence fails at the requirement's severity."""
    expected = f'json-file with log-opts max-size <= {max_size}, max-file <= {max_file}' + \
        (', compress "true"' if compress else "")
    if daemon["error"]:
        return failed(f"/etc/docker/daemon.json does not parse: {daemon['error']}", expected,
                      f"invalid JSON ({daemon['error']})")
    config = daemon["config"] or {}
    driver = config.get("log-driver", "json-file")
    if driver in ("local", "journald"):
        return passed(f"log driver {driver} rotates by itself", expected, f"log-driver {driver}")
    if driver != "json-file":
        return passed(f"log driver {driver} (not json-file)", expected, f"log-driver {driver}")
    opts = config.get("log-opts") or {}
    where = "daemon.json" if daemon["present"] else "no daemon.json (json-file, no rotation)"
    size, files = opts.get("max-size"), opts.get("max-file")
    if size is None:
        return failed(f"json-file logs never rotate: log-opts max-size is not set ({where})",
                      expected, f"max-size unset, max-file {files or 'unset'}")
    found = f"max-size {size}, max-file {files or 'unset'}"
    if not isinstance(size, str) or (files is not None and not isinstance(files, str)):
        return failed("log-opts values must be strings in daemon.json (Docker refuses "
                      "numbers)", expected, found)
    if files is None:
        return failed("log-opts max-file is not set: json-file keeps only one file (max-size "
                      "alone caps it, but the recommended rotation is max-file "
                      f"{max_file})", expected, found, severity="warning")
    if compress:
        found += f", compress {opts.get('compress') or 'unset'}"
        value = opts.get("compress")
        if not isinstance(value, str) or value not in _TRUE:  # a JSON true: Docker refuses
            return failed(f'rotated container logs are not compressed: log-opts compress is '
                          f'not "true" ({found})', expected, found)
    if (size_bytes(size) or 0) > (size_bytes(max_size) or 0) or int(files) > max_file:
        return failed(f"container logs rotate, but larger than recommended ({found})",
                      expected, found, severity="warning")
    return passed(f"container logs rotate ({found})", expected, found)
