"""Writing the bundle: members → ``manifest.json`` → a temp ``.tar.gz`` → self-scan → rename.

The scan reads the archive *as written* (every member's bytes and every member's name) and
looks for every known secret value; a hit deletes the temp file and raises ``BundleLeak``
naming the member. Only a clean archive is renamed to the requested path (mode 0600).
The same pass checks that the archive holds exactly what the manifest lists, byte for byte,
and that every member is a regular file that extracts inside the bundle's folder (tarfile's
``data_filter``, PEP 706: no absolute name, no ``..``, no link).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rs_preflight.spec.errors import PreflightError


class BundleError(PreflightError):
    """The bundle could not be written."""


class BundleLeak(BundleError):
    """The self-scan found a secret in a member; nothing was written."""

    def __init__(self, member: str, what: str) -> None:
        self.member, self.what = member, what
        super().__init__(f"{member}: contains {what} that redaction missed; "
                         "no bundle was written")


@dataclass
class Member:
    """One file of the bundle; ``meta`` goes into its manifest entry."""

    path: str
    data: bytes
    meta: dict[str, Any] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        return {"path": self.path, **self.meta, "size": len(self.data),
                "sha256": hashlib.sha256(self.data).hexdigest()}


def json_bytes(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n").encode()


def write_bundle(out: Path, root: str, members: list[Member], manifest: dict[str, Any],
                 scan: Callable[[bytes], str | None]) -> Path:
    """Write ``members`` plus ``manifest.json`` (``manifest`` + ``items``) under ``root/``."""
    manifest = {**manifest, "items": [m.entry() for m in members]}
    everything = [*members, Member("manifest.json", json_bytes(manifest))]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            now = time.time()
            for member in everything:
                info = tarfile.TarInfo(f"{root}/{member.path}")
                info.size, info.mtime, info.mode = len(member.data), now, 0o600
                tar.addfile(info, io.BytesIO(member.data))
        verify(tmp, root, scan)
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return out


def verify(path: Path, root: str, scan: Callable[[bytes], str | None]) -> None:
    """Scan every member of the archive at ``path``; check it against its manifest."""
    found: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    with tarfile.open(path, "r:gz") as tar:
        for info in tar:
            _inside(info, root)
            name = info.name.removeprefix(f"{root}/")
            what = scan(info.name.encode())
            if what:
                raise BundleLeak(f"{info.name} (the member's name)", what)
            stream = tar.extractfile(info)
            data = stream.read() if stream is not None else b""
            what = scan(data)
            if what:
                raise BundleLeak(name, what)
            if name == "manifest.json":
                manifest = json.loads(data)
            else:
                found[name] = hashlib.sha256(data).hexdigest()
    if manifest is None:
        raise BundleError("the archive has no manifest.json")
    listed = {e["path"]: e["sha256"] for e in manifest["items"]}
    if listed != found:
        diff = sorted(set(listed) ^ set(found)) or sorted(
            p for p in listed if listed[p] != found.get(p))
        raise BundleError(f"the archive does not match its manifest: {', '.join(diff[:5])}")


def _inside(info: tarfile.TarInfo, root: str) -> None:
    """Refuse a member that would not extract as a plain file inside ``root/``."""
    where = f"{info.name!r} (the member's name)"
    if not info.isreg() or not info.name.startswith(f"{root}/"):
        raise BundleError(f"{where}: not a file inside {root}/; no bundle was written")
    try:
        tarfile.data_filter(info, "/nonexistent")
    except tarfile.FilterError as exc:
        raise BundleError(f"{where}: {type(exc).__name__}; no bundle was written") from exc
    if os.path.normpath(info.name) != info.name or ".." in info.name.split("/"):
        raise BundleError(f"{where}: not a normalized path; no bundle was written")
