"""The run's known_hosts: every file read once, each SSH client given only its host's keys.

``paramiko.SSHClient.load_host_keys`` parses the whole file for every connection, and
``HostKeys.load`` checks each new line against every line read so far: one load is
O(lines²) and a run of N hosts O(N³) (benchmarks/PROFILE.md, finding 3). ``KnownHosts``
parses each file once per run with paramiko's own line parser (``HostKeyEntry.from_line``),
indexes plain host names, and hands a client the keys paramiko's lookup would have found —
plain names exactly, hashed (``|1|``) names by paramiko's HMAC — first entry per key type
wins, as in ``HostKeys.lookup``. A host with no entry gets none, so ``RejectPolicy`` (strict)
still refuses it.

``add`` records a key trusted during the run (``accept-new``) in the same store, so later
connections to that host verify against it and the run can save ``added`` once at its end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko.hostkeys import HostKeyEntry


@dataclass
class _Parsed:
    plain: dict[str, list[tuple[int, HostKeyEntry]]] = field(default_factory=dict)
    hashed: list[tuple[int, HostKeyEntry]] = field(default_factory=list)


def _parse(path: Path) -> _Parsed:
    parsed = _Parsed()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return parsed  # unreadable: no keys, so strict refuses (as paramiko's load would fail)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = HostKeyEntry.from_line(line, lineno)
        except paramiko.SSHException:
            continue
        if entry is None or entry.key is None:
            continue
        for name in entry.hostnames:
            if name.startswith("|1|"):
                parsed.hashed.append((lineno, entry))
            else:
                parsed.plain.setdefault(name, []).append((lineno, entry))
    return parsed


def _matches(name: str, entry: HostKeyEntry) -> bool:
    """paramiko's own rule (``HostKeys._hostname_matches``) for one hashed entry."""
    return any(h.startswith("|1|") and paramiko.HostKeys.hash_host(name, h) == h
               for h in entry.hostnames)


class KnownHosts:
    """known_hosts files parsed once per run; thread-safe."""

    def __init__(self) -> None:
        self._files: dict[Path, _Parsed] = {}
        self._lock = threading.Lock()
        self.added: list[tuple[str, paramiko.PKey]] = []  # trusted during this run

    def _file(self, path: Path) -> _Parsed:
        with self._lock:
            if path not in self._files:
                self._files[path] = _parse(path)
            return self._files[path]

    def keys(self, paths: list[Path], name: str) -> dict[str, paramiko.PKey]:
        """Key type → key for ``name`` (``address`` or ``[address]:port``) in ``paths``."""
        found: dict[str, paramiko.PKey] = {}
        for path in paths:
            parsed = self._file(path)
            hits = sorted([*parsed.plain.get(name, []),
                           *((n, e) for n, e in parsed.hashed if _matches(name, e))],
                          key=lambda hit: hit[0])
            for _, entry in hits:
                found.setdefault(entry.key.get_name(), entry.key)
        with self._lock:
            for host, key in self.added:
                if host == name:
                    found.setdefault(key.get_name(), key)
        return found

    def install(self, client: paramiko.SSHClient, paths: list[Path], name: str) -> None:
        """Give ``client`` only the keys known for ``name``."""
        store = client.get_host_keys()
        for keytype, key in self.keys(paths, name).items():
            store.add(name, keytype, key)

    def add(self, name: str, key: paramiko.PKey) -> None:
        """Trust ``key`` for ``name`` from now on in this run (``accept-new``)."""
        with self._lock:
            self.added.append((name, key))
