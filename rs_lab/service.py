"""One base for every lab service: where it answers, and how it starts and stops.

A service lives in a :class:`~rs_lab.netns.Namespace` that it is given (it borrows it and leaves
it alone on ``stop``) or that it makes from an index (it owns it and removes it on ``stop``).
Every service has the same face:

* **addresses** — ``ipv4``, ``ipv6`` and ``addresses`` (both): its namespace's lab addresses
  (:class:`Addressed`; lab hosts have the same three);
* **lifecycle** — ``start()`` returns the service once it answers (on failure it stops what it
  began and raises); ``stop()`` ends its processes by PID and may be called any number of
  times; a context manager around both; ``startup_seconds`` after a start;
* **processes** — started with :meth:`LabService.popen` (output to a log in ``workdir``), ended
  by PID (TERM, then KILL). ``pids()`` and ``owned_namespaces()`` say what a crashed run would
  leave (``rs_lab.scenario`` records them for ``scripts/lab down``).

A subclass writes ``_start()`` (and ``_stop()`` for anything beyond its processes)::

    class Thing(LabService):
        short = "thing"                     # namespace name when made from an index: thing<N>

        def _start(self) -> None:
            proc = self.popen(["thingd", "-f"], "thingd.log")
            self.wait_tcp(1234, proc, "thingd.log")

    with Thing(lease.take(), workdir) as thing:    # or Thing(host.ns, workdir): borrowed
        thing.ipv4, thing.ipv6
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from rs_lab.netns import LabError, Namespace, clear_leftover, end_pids, live

__all__ = ["REPO", "Addressed", "LabService", "where"]

REPO = Path(__file__).resolve().parent.parent


def where(ns: Namespace | None, index: int | None, what: str) -> Namespace | int:
    """A borrowed namespace, else an index for one of its own (for ``ns=``/``index=``
    keyword constructors)."""
    if ns is not None:
        return ns
    if index is None:
        raise LabError(f"{what}: give a namespace (ns=) or an index for one of its own")
    return index


class Addressed:
    """Something on the lab net: the IPv4 and IPv6 address of its namespace ``ns``."""

    ns: Namespace

    @property
    def ipv4(self) -> str:
        return self.ns.ipv4

    @property
    def ipv6(self) -> str:
        return self.ns.ipv6

    @property
    def addresses(self) -> list[str]:
        """Both lab addresses, IPv4 first."""
        return [self.ns.ipv4, self.ns.ipv6]


class LabService(Addressed):
    """Base of every lab service (see the module docstring).

    ``ns``: a namespace to borrow, or an index for a namespace of its own, named
    ``ns_short`` (default ``<short><index>``). ``workdir``: its folder (made on start).
    """

    short: ClassVar[str] = "svc"

    def __init__(self, ns: Namespace | int, workdir: Path, *, ns_short: str | None = None
                 ) -> None:
        if isinstance(ns, Namespace):
            self.ns, self._own_ns = ns, False
        else:
            self.ns, self._own_ns = Namespace(ns_short or f"{self.short}{ns}", ns), True
        self.workdir = Path(workdir)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.startup_seconds: float | None = None
        self._created = False

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        """Bring the service up; return it once it answers. On failure everything it began is
        stopped (processes, its own namespace) and the error raised."""
        began = time.monotonic()
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            if self._own_ns:
                self._make_namespace()
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _make_namespace(self) -> None:
        clear_leftover(self.ns)
        self._created = True  # from here on the namespace and its veth are ours to remove
        self.ns.create()

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        """What the subclass ends beyond its processes (called first by :meth:`stop`)."""

    def stop(self) -> None:
        """End every process by PID and remove the namespace if it is ours (idempotent)."""
        try:
            self._stop()
        finally:
            end_pids(live(self.procs))
            for proc in self.procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=1)
            self.ns.procs[:] = [p for p in self.ns.procs if p not in self.procs]
            self.procs.clear()
            if self._own_ns and self._created:
                self.ns.destroy()
                self._created = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what a crashed run would leave --------------------------------------------------------
    def pids(self) -> list[int]:
        """PIDs of the processes this service started."""
        return [p.pid for p in self.procs]

    def owned_namespaces(self) -> list[Namespace]:
        """Namespaces this service made (and removes on stop)."""
        return [self.ns] if self._own_ns else []

    # -- processes -----------------------------------------------------------------------------
    def popen(self, argv: list[str], log: str, env: dict[str, str] | None = None
              ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the namespace, output appended to ``workdir/log``; ended by PID."""
        full_env = {**os.environ, **env} if env is not None else None
        with open(self.workdir / log, "ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(self.ns.exec_argv(argv), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=full_env, start_new_session=True)
        self.ns.procs.append(proc)
        self.procs.append(proc)
        return proc

    def python_argv(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    @property
    def python_env(self) -> dict[str, str]:
        """For ``python -m rs_lab.<module>`` in the namespace: this checkout first."""
        return {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}

    def log_tail(self, log: str, chars: int = 3000) -> str:
        path = self.workdir / log
        return path.read_text(errors="replace")[-chars:] if path.exists() else f"(no {path})"

    def check_alive(self, proc: subprocess.Popen[bytes], log: str) -> None:
        """Raise LabError with the log's end if ``proc`` has exited."""
        if proc.poll() is not None:
            raise LabError(f"{self.ns.name}: {proc.args!r} exited {proc.returncode}:\n"
                           f"{self.log_tail(log)}")

    def wait_tcp(self, port: int, proc: subprocess.Popen[bytes], log: str,
                 timeout: float = 10.0, address: str | None = None) -> None:
        """Wait until ``ipv4:port`` (or ``address:port``) accepts, failing fast (with the log)
        if ``proc`` died."""
        host = address or self.ns.ipv4
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive(proc, log)
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError as exc:
                if time.monotonic() > deadline:
                    diag = "\n".join(
                        self.ns.run(argv, check=False).stdout
                        for argv in (["ip", "-br", "addr"], ["ss", "-Hltn"], ["ip", "neigh"]))
                    raise LabError(f"{self.ns.name}: {host}:{port} not reachable "
                                   f"({exc}); inside:\n{diag}") from exc
                time.sleep(0.02)
