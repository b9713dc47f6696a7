"""Host access through testinfra, without inheriting its gaps.

testinfra's paramiko backend accepts any host key and has no per-command timeout, and
paramiko leaves Nagle on (~40 ms per command, ../shared/LAB.md). ``SecureParamikoBackend``
verifies host keys against known_hosts (``strict`` by default; ``accept-new`` trusts unknown
keys — and saves them to the known_hosts file, so the next run checks them — but never changed
ones; ``insecure`` trusts anything; both weakened policies are warnings in every report,
``key_policy_warnings``), connects through a socket with TCP_NODELAY (optionally through jump
hosts), and ends any command that runs past the command timeout. Where and as whom it connects
is ``sshconfig.route``: the site's keys, then ``~/.ssh/config`` (or ``ssh.config``) — HostName,
User, Port, IdentityFile, ProxyJump.

``Connections`` holds one connection per host for the whole run. A host that cannot be reached
costs one connect timeout: the failure is remembered and every later use gets the same error.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shlex
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paramiko
import testinfra.backend
import testinfra.host
from paramiko.hostkeys import HostKeyEntry, InvalidHostKey
from testinfra.backend import base
from testinfra.backend.paramiko import ParamikoBackend

from rs_preflight.gather.knownhosts import KnownHosts
from rs_preflight.gather.sshconfig import Hop, Route, load_config, route
from rs_preflight.spec.errors import CommandTimeout, HostUnreachable
from rs_preflight.spec.site import Host, Site, SshSettings

log = logging.getLogger("rs_preflight.gather.access")


KeyEvent = Callable[[str], None]  # hears one line per key accepted or not verified
_SAVE_LOCK = threading.Lock()  # hosts connect in parallel; each key is one appended line
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def save_host_key(path: Path, hostname: str, key: paramiko.PKey) -> bool:
    """Add ``hostname``'s key to the known_hosts file ``path`` (created 0600, its folder 0700,
    if missing). Appends one line, so entries paramiko cannot parse (``@cert-authority``, other
    key types) stay as they are; False when the file already had a key for that name."""
    with _SAVE_LOCK:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        known = paramiko.HostKeys()
        with contextlib.suppress(FileNotFoundError, InvalidHostKey, paramiko.SSHException,
                                 UnicodeDecodeError):  # a line paramiko cannot read stays
            known.load(str(path))
        if known.lookup(hostname):
            return False
        line = HostKeyEntry([hostname], key).to_line() or ""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(line)
        return True


class _AcceptNewPolicy(paramiko.MissingHostKeyPolicy):
    """Trust a host seen for the first time and save its key to ``path`` (like OpenSSH's
    StrictHostKeyChecking=accept-new); a changed key is refused by paramiko before this."""

    def __init__(self, path: Path, on_event: KeyEvent, known: KnownHosts | None = None
                 ) -> None:
        self.path, self.on_event = path, on_event
        self.known = known if known is not None else KnownHosts()

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known.add(hostname, key)  # a reconnect in this run verifies against it
        try:
            saved = save_host_key(self.path, hostname, key)
        except OSError as exc:  # still accepted for this run; said, not hidden
            note = f"could not save it to {self.path}: {exc.strerror or exc}"
        else:
            note = f"saved to {self.path}" if saved else f"already in {self.path}"
        message = (f"accepted the new host key {key.get_name()} {key.fingerprint} of "
                   f"{hostname} without verification (ssh.host_key_policy: accept-new); {note}")
        log.warning("%s", message)
        self.on_event(message)


class _InsecurePolicy(paramiko.MissingHostKeyPolicy):
    def __init__(self, on_event: KeyEvent) -> None:
        self.on_event = on_event

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        message = (f"did NOT verify the host key {key.get_name()} {key.fingerprint} of "
                   f"{hostname} (ssh.host_key_policy: insecure)")
        log.warning("%s", message)
        self.on_event(message)


def known_hosts_file(ssh: SshSettings) -> Path:
    """Where host keys are read from and accept-new saves them: the site's file, else
    ``~/.ssh/known_hosts``."""
    return ssh.known_hosts or DEFAULT_KNOWN_HOSTS.expanduser()


def _policy(ssh: SshSettings, on_event: KeyEvent, known: KnownHosts,
            save_to: Path | None = None) -> paramiko.MissingHostKeyPolicy:
    if ssh.host_key_policy == "accept-new":
        return _AcceptNewPolicy(save_to or known_hosts_file(ssh), on_event, known)
    if ssh.host_key_policy == "insecure":
        return _InsecurePolicy(on_event)
    return paramiko.RejectPolicy()


def key_policy_warnings(site: Site, events: list[str]) -> list[dict[str, str]]:
    """``results.json``'s ``warnings``: a weakened host-key policy, and every key it let
    through this run (``{"kind", "message"}``)."""
    if site.ssh.host_key_policy == "strict" or not any(
            h.connection == "ssh" and h.reachable for h in site.hosts):
        return []
    if site.ssh.host_key_policy == "accept-new":
        text = ("ssh.host_key_policy is accept-new: a host key not yet in "
                f"{known_hosts_file(site.ssh)} is trusted on first use and saved there; "
                "verify new fingerprints out of band, then use strict")
    else:
        text = ("ssh.host_key_policy is insecure: host keys are NOT verified; anyone in the "
                "network path can answer for a host. Use strict (or accept-new once)")
    return [{"kind": "host-key-policy", "message": text},
            *({"kind": "host-key", "message": e} for e in events)]


def _nodelay_socket(address: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((address, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


NO_HANDSHAKE = ("No existing session", "Error reading SSH protocol banner")
# SSH handshakes at once to one jump host: sshd's MaxStartups (default 10:30:100) starts
# dropping unauthenticated connections beyond 10, and the gather connects up to
# PARALLEL_CONNECTS hosts at once (state.py), each through its own connection to the jump host
JUMP_HANDSHAKES = 8
_jump_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_jump_slots_lock = threading.Lock()


def _jump_slot(hop: Hop) -> threading.BoundedSemaphore:
    with _jump_slots_lock:
        return _jump_slots.setdefault((hop.address, hop.port),
                                      threading.BoundedSemaphore(JUMP_HANDSHAKES))


def _explain(exc: BaseException, hop: Hop, ssh: SshSettings, known: str = "") -> str:
    """A one-line reason an admin can act on, for any connect/login failure."""
    where, port = f"{hop.address}:{hop.port}", hop.port
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"SSH connect to {where} timed out after {ssh.connect_timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return f"SSH connect to {where} refused (nothing listens on port {port})"
    if isinstance(exc, paramiko.BadHostKeyException):
        return (f"host key of {where} CHANGED: got {exc.key.get_name()} "
                f"{exc.key.fingerprint}, known_hosts has {exc.expected_key.fingerprint}")
    if isinstance(exc, paramiko.AuthenticationException):
        return f"SSH login to {where} as {hop.user} failed: {exc}"
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        known = known or str(ssh.known_hosts or "~/.ssh/known_hosts")
        return (f"host key of {where} is not in {known}: "
                "refusing to connect (add it with ssh-keyscan after checking its fingerprint, "
                "or set ssh.host_key_policy: accept-new)")
    if isinstance(exc, paramiko.SSHException) and str(exc) in NO_HANDSHAKE:
        # paramiko's words when the server accepted TCP but never sent its banner (or the
        # handshake stalled): its transport thread gave up after banner_timeout
        return (f"SSH connect to {where}: no SSH handshake within {ssh.connect_timeout:g}s "
                f"(port {port} accepts TCP but sends no SSH banner)")
    if isinstance(exc, OSError):
        return f"SSH connect to {where} failed: {exc.strerror or exc}"
    return f"SSH connect to {where} failed: {exc}"


class SecureParamikoBackend(ParamikoBackend):  # type: ignore[misc]
    """testinfra's paramiko backend with host-key checks, TCP_NODELAY and command timeouts."""

    NAME = "rs-paramiko"

    def __init__(self, host: Host, ssh: SshSettings, on_key_event: KeyEvent | None = None,
                 known: KnownHosts | None = None, **kwargs: Any) -> None:
        self.rs_host, self.rs_ssh = host, ssh
        self.on_key_event: KeyEvent = on_key_event or (lambda message: None)
        self.known = known if known is not None else KnownHosts()  # one per run: Connections
        self.route: Route = route(host, ssh, load_config(ssh.config))
        target = self.route.target
        address = f"[{target.address}]" if ":" in target.address else target.address
        spec = f"{target.user}@{address}" if target.user else address
        super().__init__(spec, timeout=int(ssh.connect_timeout) or 1, sudo=ssh.sudo, **kwargs)
        self._jumps: list[paramiko.SSHClient] = []
        self._client: paramiko.SSHClient | None = None
        self._client_lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.route.target.port

    def _sock(self) -> Any:
        """A socket to the target: direct, or a channel through each jump host in turn."""
        hops = [*self.route.jumps, self.route.target]
        first = "jump host: " if self.route.jumps else ""
        try:
            sock: Any = _nodelay_socket(hops[0].address, hops[0].port,
                                        self.rs_ssh.connect_timeout)
        except OSError as exc:
            raise HostUnreachable(first + _explain(exc, hops[0], self.rs_ssh, self._known)) from exc
        for hop, after in itertools.pairwise(hops):
            jump = self._new_client(hop)
            self._jumps.append(jump)
            try:
                with _jump_slot(hop):
                    jump.connect(hop.address, hop.port, username=hop.user, sock=sock,
                                 **self._auth(hop))
            except (OSError, paramiko.SSHException) as exc:
                raise HostUnreachable(
                    f"jump host: {_explain(exc, hop, self.rs_ssh, self._known)}") from exc
            transport = jump.get_transport()
            assert transport is not None
            sock = transport.open_channel("direct-tcpip", (after.address, after.port), ("", 0),
                                          timeout=self.rs_ssh.connect_timeout)
        return sock

    @property
    def _known(self) -> str:
        """The known_hosts files used, for messages."""
        if self.rs_ssh.known_hosts is None and self.route.known_hosts:
            return " / ".join(map(str, self.route.known_hosts)) + " (ssh_config)"
        return str(self.rs_ssh.known_hosts or "~/.ssh/known_hosts")

    def _known_files(self) -> list[Path]:
        if self.rs_ssh.known_hosts:
            return [self.rs_ssh.known_hosts] if self.rs_ssh.known_hosts.exists() else []
        if self.route.known_hosts:  # ssh_config's UserKnownHostsFile
            return [path for path in self.route.known_hosts if path.is_file()]
        system = Path("~/.ssh/known_hosts").expanduser()  # as load_system_host_keys
        return [system] if system.is_file() else []

    def _new_client(self, hop: Hop) -> paramiko.SSHClient:
        """A client that knows only ``hop``'s host keys, from the run's parsed known_hosts
        (not the whole file parsed again per connection: knownhosts.py)."""
        client = paramiko.SSHClient()
        name = hop.address if hop.port == 22 else f"[{hop.address}]:{hop.port}"  # as paramiko
        self.known.install(client, self._known_files(), name)
        # accept-new saves where keys are read: the site's file, else ssh_config's first
        # UserKnownHostsFile, else ~/.ssh/known_hosts
        save_to = (self.route.known_hosts[0] if self.rs_ssh.known_hosts is None
                   and self.route.known_hosts else None)
        client.set_missing_host_key_policy(_policy(self.rs_ssh, self.on_key_event, self.known,
                                                   save_to))
        return client

    def _auth(self, hop: Hop) -> dict[str, Any]:
        ssh = self.rs_ssh
        keys = list(hop.identity_files) or None
        return {"key_filename": keys, "password": ssh.password, "timeout": ssh.connect_timeout,
                "banner_timeout": ssh.connect_timeout, "auth_timeout": ssh.connect_timeout,
                "look_for_keys": keys is None and ssh.password is None,
                "allow_agent": keys is None and ssh.password is None}

    @property
    def client(self) -> paramiko.SSHClient:
        """Connected on first use, once. Not ``functools.cached_property``: before Python 3.12
        its lock is one for the class, so every host's connect waited for the one before —
        a host that drops SYNs held up all others for its whole connect timeout."""
        with self._client_lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> paramiko.SSHClient:
        target = self.route.target
        client = self._new_client(target)
        try:
            client.connect(target.address, target.port, username=target.user,
                           sock=self._sock(), **self._auth(target))
        except HostUnreachable:
            client.close()
            raise
        except (OSError, paramiko.SSHException) as exc:
            client.close()
            raise HostUnreachable(_explain(exc, target, self.rs_ssh, self._known)) from exc
        return client

    def _exec_command(self, command: bytes, stdin: bytes | None = None
                      ) -> tuple[int, bytes, bytes]:
        transport = self.client.get_transport()
        assert transport is not None
        chan = transport.open_session(timeout=self.rs_ssh.connect_timeout)
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            chan.close()

        timer = threading.Timer(self.rs_ssh.command_timeout, expire)
        timer.start()
        try:
            chan.settimeout(self.rs_ssh.command_timeout)
            chan.exec_command(command)
            if stdin is not None:
                chan.sendall(stdin)
                chan.shutdown_write()
            stdout = b"".join(chan.makefile("rb"))
            stderr = b"".join(chan.makefile_stderr("rb"))
            rc = chan.recv_exit_status()
        except (TimeoutError, OSError, EOFError) as exc:
            if timed_out.is_set() or isinstance(exc, socket.timeout):
                raise CommandTimeout(self._timeout_message(command)) from exc
            raise
        finally:
            timer.cancel()
        if timed_out.is_set():
            raise CommandTimeout(self._timeout_message(command))
        return rc, stdout, stderr

    @contextlib.contextmanager
    def line_channel(self, command: str) -> Iterator[Callable[[], str]]:
        """One channel running ``command``, a loop that answers each input line with one
        line; yields ``ask()``, one round trip on that channel. Several short round trips
        (the clock samples) then cost one channel, not one channel and timer each."""
        transport = self.client.get_transport()
        assert transport is not None
        chan = transport.open_session(timeout=self.rs_ssh.connect_timeout)
        chan.settimeout(self.rs_ssh.command_timeout)
        reader = chan.makefile("rb")

        def ask() -> str:
            chan.sendall(b"\n")
            line = reader.readline()
            if not line.endswith(b"\n"):
                raise CommandTimeout(f"{self.rs_host.name}: {command!r} ended early")
            return bytes(line).decode(errors="replace")

        try:
            chan.exec_command(command)
            yield ask
        except (TimeoutError, OSError, EOFError) as exc:
            raise CommandTimeout(self._timeout_message(command.encode())) from exc
        finally:
            chan.close()

    def _timeout_message(self, command: bytes) -> str:
        head = command.decode(errors="replace").split("\n", 1)[0][:60]
        return (f"command on {self.rs_host.name} ran past {self.rs_ssh.command_timeout:g}s "
                f"(ssh.command_timeout): {head}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        for jump in reversed(self._jumps):
            jump.close()


def make_backend(host: Host, site: Site, on_key_event: KeyEvent | None = None,
                 known: KnownHosts | None = None) -> base.BaseBackend:
    """The testinfra backend for ``host``: ours for SSH, testinfra's own for the rest."""
    if host.connection == "ssh":
        return SecureParamikoBackend(host, site.ssh, on_key_event, known)
    if host.connection == "local":
        return testinfra.backend.get_backend("local://", sudo=site.ssh.sudo)
    if host.connection == "docker":
        return testinfra.backend.get_backend(f"docker://{host.container or host.name}")
    if host.connection == "ansible":
        return testinfra.backend.get_backend(f"ansible://{host.name}")
    raise HostUnreachable(f"{host.name} is checked over the network only (ssh: false)")


def run_with_input(thost: testinfra.host.Host, command: str, data: bytes,
                   timeout: float | None = None) -> bytes:
    """Run ``command`` on the host with ``data`` on its stdin; its stdout.

    Over SSH (ours) and locally the data never appears in a process's arguments. testinfra's
    docker and ansible backends have no stdin: there it goes through ``printf`` (an argument).
    """
    backend = thost.backend
    if isinstance(backend, SecureParamikoBackend):
        line = backend.encode(backend.get_command(command))
        return backend._exec_command(line, data)[1]
    if backend.NAME == "local" and not backend.sudo:
        try:
            proc = subprocess.run(["/bin/sh", "-c", command], input=data, capture_output=True,
                                  check=False, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeout(f"local command ran past {timeout:g}s") from exc
        return proc.stdout
    text = data.decode("utf-8", errors="replace")
    return thost.run(f"printf '%s' {shlex.quote(text)} | {command}").stdout_bytes  # type: ignore[no-any-return]


class Connections:
    """One testinfra Host per site host for the whole run; failures are remembered."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._hosts: dict[str, testinfra.host.Host] = {}
        self._failures: dict[str, HostUnreachable] = {}
        self._locks: dict[str, threading.Lock] = {h.name: threading.Lock() for h in site.hosts}
        self.key_events: list[str] = []  # keys accepted or not verified (weakened policies)
        self.known = KnownHosts()  # known_hosts parsed once for the whole run

    def get(self, host: Host) -> testinfra.host.Host:
        """The connected testinfra Host; raises the same ``HostUnreachable`` every time."""
        with self._locks[host.name]:
            if host.name in self._failures:
                raise self._failures[host.name]
            if host.name not in self._hosts:
                try:
                    backend = make_backend(host, self.site, self.key_events.append,
                                           self.known)
                    if isinstance(backend, SecureParamikoBackend):
                        backend.client  # noqa: B018 - connect now: one error per host
                except HostUnreachable as exc:
                    self._failures[host.name] = exc
                    raise
                thost = testinfra.host.Host(backend)
                backend.set_host(thost)
                self._hosts[host.name] = thost
            return self._hosts[host.name]

    def release(self, host: Host) -> None:
        """Close the host's connection now (its facts are in); a later ``get`` reconnects,
        with the same host-key checks. An idle paramiko transport wakes ten times a second
        until closed (benchmarks/PROFILE.md, finding 2)."""
        with self._locks[host.name]:
            thost = self._hosts.pop(host.name, None)
        if thost is not None and isinstance(thost.backend, SecureParamikoBackend):
            thost.backend.close()

    def close(self) -> None:
        for thost in self._hosts.values():
            backend = thost.backend
            if isinstance(backend, SecureParamikoBackend):
                backend.close()
        self._hosts.clear()
