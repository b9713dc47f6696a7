"""The header-echo listener, started the way the LB checks start it (over a local connection,
settings and certificate on stdin), on the host's site address 127.0.0.1 only: it echoes in TLS
and plain HTTP (saying which port and protocol), upgrades a WebSocket, answers only requests
with the run's token, caps its connections, skips a taken candidate port, reports a taken
declared port, and leaves no process and no folder behind."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra

from rs_preflight.gather import header_probe as hp
from rs_preflight.gather.probes import ProbeError, header_echo, http
from rs_preflight.spec.site import Host, Site

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def local_site(port: int, **kw: object) -> Site:
    host = Host(name="here", address=LOOPBACK, roles=("app", "realtime"), connection="local")
    return Site(name="t", file=None, hosts=(host,), lb_backend_port=port,
                **kw)  # type: ignore[arg-type]


def tokened(probe: hp.HeaderProbe, path: str = "/x?y=1") -> str:
    return f"{path}{'&' if '?' in path else '?'}{hp.token_query(probe.token)}"


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def ours(pid: int, token: str) -> bool:
    try:
        return token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def listening_ports() -> set[int]:
    """TCP ports in LISTEN state on this machine, from the kernel's tables (a connect() test
    could succeed by TCP self-connect on a port of the ephemeral range)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def probe_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "rs-preflight-probe-*")))


@pytest.fixture
def started() -> Iterator[tuple[hp.HeaderProbe, int, list[object]]]:
    port = free_port()
    probe = hp.HeaderProbe(lifetime=30)  # binds the host's site address, 127.0.0.1
    local = testinfra.get_host("local://")
    cleanups: list[object] = []
    try:
        problems = probe.ensure(local_site(port), lambda _: local, cleanups.append)
        assert problems == []
        yield probe, port, cleanups
    finally:
        probe.stop()


def test_echoes_over_tls_and_plain_http_and_stops(started: tuple[hp.HeaderProbe, int, list[object]]
                                                  ) -> None:
    probe, port, cleanups = started
    before = probe_dirs()
    listener = probe.listeners["here"]
    assert ours(listener.pid, probe.token) and listener.tls
    assert port in listening_ports()
    assert cleanups == [probe.stop]                      # the run's cleanup will stop it too
    for scheme in ("https", "http"):
        answer = http.get(LOOPBACK, f"{scheme}://t1.example.com:{port}{tokened(probe)}",
                          timeout=5, headers={"X-Forwarded-For": "192.0.2.1", "X-Dup": "a"})
        echo = http.echo(answer)
        assert echo is not None and echo.probe == probe.token
        assert echo.values("Host") == [f"t1.example.com:{port}"]
        assert echo.values("X-Forwarded-For") == ["192.0.2.1"]
        assert echo.client == LOOPBACK
        assert echo.backend == f"here:{port} {'TLS' if scheme == 'https' else 'plain HTTP'}"
        doc = json.loads(answer.body)
        assert doc["request_line"] == f"GET {tokened(probe)} HTTP/1.1"
        assert doc["server"] == "rs-preflight"
    for tls in (True, False):
        upgrade = http.websocket(LOOPBACK, "realtime.example.com", port=port, tls=tls,
                                 path=tokened(probe, "/faye"), timeout=5)
        assert upgrade.switched, upgrade
        assert upgrade.backend == f"here:{port} {'TLS' if tls else 'plain HTTP'}"
    probe.stop()
    assert not ours(listener.pid, probe.token)
    assert probe.listeners == {}
    assert probe_dirs() <= before                        # nothing left in the temp folder
    assert port not in listening_ports()                 # and nothing listens on its port


def test_duplicate_headers_arrive_in_order(started: tuple[hp.HeaderProbe, int, list[object]]
                                           ) -> None:
    probe, port, _ = started
    raw = (b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nHost: b\r\n"
           b"Connection: close\r\nX-RS-Preflight-Probe: " + probe.token.encode() +
           b"\r\n\r\n")
    with socket.create_connection((LOOPBACK, port), timeout=5) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    doc = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert doc["headers"] == [["Host", "a"], ["X-Forwarded-For", "1.1.1.1"], ["Host", "b"],
                              ["Connection", "close"], ["X-RS-Preflight-Probe", probe.token]]


def test_requests_without_the_runs_token_get_404(
        started: tuple[hp.HeaderProbe, int, list[object]]) -> None:
    _, port, _ = started
    for path in ("/x", "/x?rs-preflight-probe=another", f"/x?{hp.token_query('0' * 24)}"):
        answer = http.get(LOOPBACK, f"http://t1.example.com:{port}{path}", timeout=5)
        assert answer.status == 404 and http.echo(answer) is None, path
    upgrade = http.websocket(LOOPBACK, "realtime.example.com", port=port, tls=False,
                             timeout=5)
    assert not upgrade.switched and upgrade.status == 404


def test_it_listens_on_the_site_address_only(
        started: tuple[hp.HeaderProbe, int, list[object]]) -> None:
    _, port, _ = started
    with pytest.raises(ConnectionRefusedError), \
            socket.create_connection(("127.0.0.2", port), timeout=5):
        pass  # another address of this machine: nothing listens there


def test_300_idle_connections_do_not_make_300_threads(
        started: tuple[hp.HeaderProbe, int, list[object]]) -> None:
    probe, port, _ = started
    pid = probe.listeners["here"].pid
    idle = []
    try:
        for _ in range(300):
            idle.append(socket.create_connection((LOOPBACK, port), timeout=5))
        time.sleep(1)
        assert threads_of(pid) <= header_echo.MAX_CONNECTIONS + 1
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 5  # the slots come back once the idle clients have gone
    while time.monotonic() < deadline:
        with contextlib.suppress(ProbeError):
            answer = http.get(LOOPBACK, f"http://t1.example.com:{port}{tokened(probe)}",
                              timeout=2)
            if http.echo(answer) is not None:
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the listener did not serve again after the idle clients left")


def test_a_taken_candidate_port_is_skipped_while_another_is_free() -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen(1)
        taken, free = holder.getsockname()[1], free_port()
        host = Host(name="here", address=LOOPBACK, roles=("app",), connection="local")
        site = Site(name="t", file=None, hosts=(host,))
        probe = hp.HeaderProbe(lifetime=10)
        local = testinfra.get_host("local://")
        try:
            groups = [[taken, free]]
            assert probe._start_one(host, lambda _: local, groups, *hp.throwaway_certificate(
                ["here"])) == ""
            assert probe.listeners["here"].ports == (free,)
        finally:
            probe.stop()
    assert hp.port_groups(site, host) == [[443, 80]]      # nothing declared: the matrix


def test_a_taken_port_is_said_plainly() -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        probe = hp.HeaderProbe(lifetime=10, bind=LOOPBACK)
        local = testinfra.get_host("local://")
        try:
            problems = probe.ensure(local_site(port), lambda _: local, lambda _: None)
        finally:
            probe.stop()
    assert problems == [f"backend port {port} on here is taken: cannot start the header probe"]
    assert probe.listeners == {}


def test_ssh_false_backends_accept_another_echo_and_start_nothing() -> None:
    host = Host(name="far", address="192.0.2.7", roles=("app",), connection="none")
    probe = hp.HeaderProbe()
    assert probe.ensure(Site(name="t", file=None, hosts=(host,)), lambda _: None,
                        lambda _: None) == []
    assert probe.foreign_ok and probe.listeners == {}


def test_the_certificate_goes_through_a_private_folder_that_is_removed() -> None:
    before = probe_dirs()
    cert, key = hp.throwaway_certificate(["app1"])
    ctx = header_echo.tls_context(cert, key)
    assert isinstance(ctx, ssl.SSLContext)
    assert probe_dirs() <= before
    assert "PRIVATE KEY" in key and "CERTIFICATE" in cert


def test_the_bootstrap_is_what_the_host_runs() -> None:
    """No file on the host: the source comes with the settings on stdin."""
    assert "sys.stdin.read()" in header_echo.BOOTSTRAP and "launch" in header_echo.BOOTSTRAP
    with contextlib.suppress(SyntaxError):
        compile(header_echo.BOOTSTRAP, "<bootstrap>", "exec")
        return
    raise AssertionError("the bootstrap does not compile")


def test_the_site_address_is_used_as_given_and_a_name_is_resolved_on_the_host() -> None:
    assert header_echo.site_addresses("192.0.2.7") == ["192.0.2.7"]
    assert header_echo.site_addresses("fd00::7") == ["fd00::7"]
    # a name: the host's own resolver; loopback only when nothing else is known for it
    assert set(header_echo.site_addresses("localhost")) <= {"127.0.0.1", "::1"}
