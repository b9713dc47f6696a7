"""The header-echo listener on the backends — one of rs-preflight's few active probes.

Before installation nothing answers behind the load balancer, so in phase *pre* the LB checks
(RS-LB-01/02/03/05/06) start :mod:`rs_preflight.gather.probes.header_echo` on every app and realtime
host, on the port(s) the load balancer may target for that host's roles
(:mod:`rs_preflight.spec.backends`: what ``load_balancer.backends`` says, else every port the
network matrix names for the role — app 443 and 80, realtime 443 — where free), send their
requests through the load balancer and read what arrived, and which port and protocol it came
in on. The listener:

* is started over the host connection as ``python3 -c <bootstrap> rs-preflight-header-probe
  <token>``; its source, settings and a throwaway self-signed certificate and key (made here
  with ``cryptography``, different each run) travel on stdin — nothing is written on the host
  but a private temporary folder that the listener removes before it serves;
* speaks TLS or plain HTTP on each port, whichever the load balancer uses, and says which;
* listens on the host's site address only, serves at most 32 connections at once, and answers
  only requests that carry the run's token (:func:`token_query`);
* ends itself after :data:`LIFETIME_S`, and is stopped by PID — only after checking that the PID
  still runs *our* command line (with the run's random token) — after the last LB check and in
  the run's cleanup (``RunState.cleanup``, also on Ctrl-C or SIGTERM).

A taken port the site declared is an error of the LB checks ("backend port 443 on app1 is
taken: cannot start the header probe"), never a wrong result; a taken candidate port the site
did not declare is skipped while another candidate of the role is free. Phase *post* never
starts it (post is read-only).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import json
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import testinfra.host
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rs_preflight.gather.access import SecureParamikoBackend
from rs_preflight.gather.probes import header_echo
from rs_preflight.spec.backends import backends_of
from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.redact import clip
from rs_preflight.spec.site import Host, Site

LIFETIME_S = 60      # the listener's own hard deadline
MIN_LEFT_S = 20      # a listener with less than this left is restarted before it is used
SETTLE_S = 15        # how long a load balancer may answer 502/503/504 for a backend that it
                     # marked down before the listener existed (nginx: fail_timeout 10 s)
START_TIMEOUT_S = 15
TAG = "rs-preflight-header-probe"
START = "python3 -c %s %s %s"
# Kill only if the PID still runs our token; then wait until it has really exited: its
# cmdline empties (exit_mm) before its sockets close (exit_files), so wait for the state to be
# gone or Z (a zombie holds no files), at most 5 s.
STOP = ("if grep -aqF -- %s /proc/%s/cmdline 2>/dev/null; then kill -TERM %s; fi; i=0; "
        "while [ $i -lt 50 ]; do s=$(sed 's/.*) //;s/ .*//' /proc/%s/stat 2>/dev/null); "
        "[ -n \"$s\" ] && [ \"$s\" != Z ] || break; sleep 0.1; i=$((i+1)); done")


@dataclass(frozen=True)
class Listener:
    host: str
    pid: int
    ports: tuple[int, ...]  # what it listens on (a taken, undeclared candidate is skipped)
    tls: bool
    started: float  # monotonic, on the runner

    @property
    def port(self) -> int:
        return self.ports[0]


def backend_hosts(site: Site) -> list[Host]:
    """The hosts the load balancer targets: app (every name) and realtime (the realtime name)."""
    return site.hosts_with("app", "realtime")


def port_groups(site: Site, host: Host) -> list[list[int]]:
    """One group of candidate ports per role of ``host``: each needs one free port."""
    return [list(b.ports) for b in backends_of(site, host)]


def token_query(token: str) -> str:
    """What a request carries so that this run's listener answers it (others get 404)."""
    return f"{header_echo.TOKEN_PARAM}={token}"


def throwaway_certificate(names: list[str]) -> tuple[str, str]:
    """(certificate PEM, key PEM): self-signed, EC P-256, valid for a day, for this run only."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rs-preflight header probe")])
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName(n) for n in dict.fromkeys(names) if n and ":" not in n] or \
        [x509.DNSName("rs-preflight.invalid")]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def run_with_stdin(thost: testinfra.host.Host, data: bytes, timeout: float,
                   command: str, *args: str) -> tuple[int, str, str]:
    """Run ``command`` (testinfra-quoted ``args``, sudo as configured) feeding ``data`` on
    stdin. SSH (ours) and local connections only: docker/ansible have no stdin to give."""
    backend = thost.backend
    cmd = backend.get_command(command, *args)
    if isinstance(backend, SecureParamikoBackend):
        transport = backend.client.get_transport()
        assert transport is not None
        chan = transport.open_session(timeout=timeout)
        try:
            chan.settimeout(timeout)
            chan.exec_command(cmd)
            chan.sendall(data)
            chan.shutdown_write()
            # The launcher answers one line, then exits. Read up to that line, not to EOF:
            # the detached listener must never be able to hold the session open.
            out = b""
            while b"\n" not in out:
                chunk = chan.recv(4096)
                if not chunk:
                    break
                out += chunk
            deadline = time.monotonic() + 2
            while not chan.exit_status_ready() and time.monotonic() < deadline:
                time.sleep(0.01)
            err = b""
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(4096)
            rc = chan.recv_exit_status() if chan.exit_status_ready() else 0
            return rc, out.decode(errors="replace"), err.decode(errors="replace")
        except (OSError, EOFError) as exc:
            raise PreflightError(f"{TAG}: {type(exc).__name__}: {exc}") from exc
        finally:
            chan.close()
    if getattr(backend, "NAME", "") == "local":
        try:
            proc = subprocess.run(cmd, shell=True, input=data, capture_output=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PreflightError(f"{TAG}: ran past {timeout:g}s") from exc
        return proc.returncode, proc.stdout.decode(errors="replace"), \
            proc.stderr.decode(errors="replace")
    raise PreflightError(f"the header probe needs an SSH or local connection, not "
                         f"{getattr(backend, 'NAME', type(backend).__name__)}")


class HeaderProbe:
    """The run's listeners: started on demand (``ensure``), stopped by ``stop`` (idempotent)."""

    def __init__(self, lifetime: int = LIFETIME_S, bind: str | None = None) -> None:
        self.token = secrets.token_hex(12)
        self.lifetime = lifetime
        self.bind = bind  # one address instead of all of them (tests on loopback)
        self.listeners: dict[str, Listener] = {}
        self._thosts: dict[str, testinfra.host.Host] = {}
        self._lock = threading.Lock()
        self._registered = False
        self.settle_until = 0.0
        # another echo's answer counts only where ours could not be started (``ssh: false``)
        self.foreign_ok = False


    def settling(self) -> bool:
        """True while a load balancer may still be answering for a backend it marked down."""
        return bool(self.listeners) and time.monotonic() < self.settle_until

    def ensure(self, site: Site, connect: Callable[[Host], testinfra.host.Host],
               on_cleanup: Callable[[Callable[[], None]], None]) -> list[str]:
        """Listen on every backend host with at least :data:`MIN_LEFT_S` to go. Returns why
        it could not (one line per host), empty when all listen."""
        with self._lock:
            if not self._registered:
                on_cleanup(self.stop)
                self._registered = True
            hosts = backend_hosts(site)
            self.foreign_ok = not hosts or any(not h.reachable for h in hosts)
            now = time.monotonic()
            stale = [h for h in hosts if h.name in self.listeners
                     and now - self.listeners[h.name].started > self.lifetime - MIN_LEFT_S]
            for host in stale:
                self._stop_one(host.name)
            todo = [h for h in hosts if h.reachable and h.name not in self.listeners]
            if not todo:
                return []
            cert, key = throwaway_certificate([h.name for h in hosts])
            with concurrent.futures.ThreadPoolExecutor(len(todo)) as pool:
                outcomes = list(pool.map(
                    lambda h: self._start_one(h, connect, port_groups(site, h), cert, key),
                    todo))
            self.settle_until = time.monotonic() + SETTLE_S
            return [o for o in outcomes if o]

    def _start_one(self, host: Host, connect: Callable[[Host], testinfra.host.Host],
                   groups: list[list[int]], cert: str, key: str) -> str:
        code = resources.files("rs_preflight.gather.probes").joinpath("header_echo.py").read_text(
            "utf-8")
        cfg = {"code": code, "groups": groups, "token": self.token, "lifetime": self.lifetime,
               "cert": cert, "key": key, "bind": self.bind or host.address, "host": host.name}
        port = " or ".join(str(p) for p in dict.fromkeys(p for g in groups for p in g))
        why = f"cannot start the header probe on {host.name}"
        begun = time.monotonic()  # its lifetime runs from about now, however long the start
        try:
            thost = connect(host)
            rc, out, err = run_with_stdin(thost, json.dumps(cfg).encode(), START_TIMEOUT_S,
                                          START, header_echo.BOOTSTRAP, TAG, self.token)
        except PreflightError as exc:
            return f"{why}: {exc}"
        except Exception as exc:  # a backend's own error: this host only, said plainly
            return f"{why}: {type(exc).__name__}: {exc}"
        reply = _last_json(out)
        pid, ports = reply.get("pid"), reply.get("ports")
        if rc == 0 and isinstance(pid, int) and isinstance(ports, list) and ports:
            # stored from the pool's threads while ``ensure`` holds the lock (one key each)
            self._thosts[host.name] = thost
            self.listeners[host.name] = Listener(host.name, pid, tuple(int(p) for p in ports),
                                                 bool(reply.get("tls")), begun)
            return ""
        if reply.get("error") == "taken":
            return f"backend port {port} on {host.name} is taken: cannot start the header probe"
        if reply.get("error") == "denied":
            return (f"{why}: binding port {port} was denied ({reply.get('detail')}; a port "
                    f"below 1024 needs root: ssh.user root or ssh.sudo: true)")
        if rc == 127 or "python3: not found" in err or "No such file" in err:
            return f"{why}: python3 is not installed there"
        detail = reply.get("detail") or (err.strip().splitlines() or [f"exit {rc}"])[-1]
        return f"{why}: {clip(str(detail), 200)}"

    def _stop_one(self, name: str) -> None:
        listener = self.listeners.pop(name, None)
        thost = self._thosts.pop(name, None)
        if listener is None or thost is None:
            return
        pid = str(listener.pid)
        thost.run(STOP, self.token, pid, pid, pid)

    def stop(self) -> None:
        """Stop every listener of this run (only ours: the PID must still run our token)."""
        for name in list(self.listeners):
            # a host gone by now: its listener ends at its own deadline
            with contextlib.suppress(Exception):
                self._stop_one(name)


def _last_json(text: str) -> dict[str, object]:
    for line in reversed(text.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            return doc
    return {}

__all__ = ["LIFETIME_S", "HeaderProbe", "Listener", "backend_hosts", "port_groups",
           "run_with_stdin", "throwaway_certificate", "token_query"]
