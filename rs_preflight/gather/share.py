"""The shared-folder probe (RS-STORAGE-01) — one of rs-preflight's few active probes.

One probe file, ``.rs-preflight-probe-<random>`` with random content, is written into the
share on the first app/job host that has it; every other app and job host reads it back. The
file is removed when the run ends — also when it is interrupted (the run's cleanup runs from
``pytest_sessionfinish``, which pytest calls on KeyboardInterrupt, and ``rs-preflight`` turns
SIGTERM into one). Nothing else in the share is touched: the name is new and unguessable.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import testinfra.host

from rs_preflight.spec.errors import CheckError
from rs_preflight.spec.redact import clip
from rs_preflight.spec.site import Host


@dataclass
class Probe:
    writer: str
    path: str
    content: str


class ShareProbe:
    """Writes the probe once, lets hosts read it, removes it at the end."""

    def __init__(self, share_path: str) -> None:
        self.share_path = share_path.rstrip("/") or "/"
        self.probe: Probe | None = None
        self._writer_host: testinfra.host.Host | None = None
        self._path: str | None = None  # set before the write: an interrupt may come during it

    def write(self, host: Host, thost: testinfra.host.Host) -> Probe:
        if self.probe is not None:
            return self.probe
        name = f".rs-preflight-probe-{secrets.token_hex(8)}"
        path = f"{self.share_path}/{name}"
        content = secrets.token_hex(16)
        # Known for the clean-up before the command runs: a signal that arrives while the host
        # writes the file (it exists, the answer is not back yet) must not leave it behind. The
        # name is new and unguessable, so a file there is ours.
        self._writer_host, self._path = thost, path
        # noclobber (set -C): never overwrite a file we did not create
        result = thost.run("umask 022; set -C; printf %s %s > %s", "%s", content, path)
        if result.rc != 0:
            self._writer_host = self._path = None  # nothing of ours is there
            raise CheckError(f"could not write the probe file {path} on {host.name}: "
                             f"{clip(result.stderr.strip(), 200)}")
        self.probe = Probe(host.name, path, content)
        return self.probe

    def read(self, thost: testinfra.host.Host) -> str | None:
        assert self.probe is not None
        result = thost.run("cat %s", self.probe.path)
        return result.stdout if result.rc == 0 else None

    def cleanup(self) -> None:
        """Remove the probe file (only it) from the share."""
        if self._path is not None and self._writer_host is not None:
            self._writer_host.run("rm -f -- %s", self._path)
            self.probe = None
            self._path = None
