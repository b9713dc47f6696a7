"""The lab scenario layer for real: the healthy small site, overlays that break one thing, and a
teardown that leaves nothing.

Nothing here resolves a lab name with the system resolver: DNS is asked directly (dnspython,
``configure=False``), HTTP goes through ``pinned_session``, psycopg gets ``hostaddr=``, IMAP and
SMTP connect to addresses with the name only in TLS. Bring-up and teardown times are measured and
printed (``-s``), never asserted.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import json
import os
import secrets
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import paramiko
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization

from rs_lab.indices import Lease
from rs_lab.netns import PREFIX
from rs_lab.preflight import run_preflight
from rs_lab.scenario import OVERLAYS, LabSite, Scenario, namespace_names
from rs_lab.webclient import pinned_session
from rs_preflight.spec.site import load_site

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("sshfs") is None:  # pragma: no cover
    pytest.skip("needs root and the lab's packages (scripts/setup)", allow_module_level=True)

FIRST = "RS-OS-01 or RS-SYSCTL or RS-LIMIT or RS-ENV"


# -- helpers ---------------------------------------------------------------------------------------

def ssh(site: LabSite, name: str, command: str) -> str:
    """Run ``command`` on host ``name`` over real SSH (key auth, host key verified)."""
    assert site.hostlab is not None
    host = site.host(name)
    sock = socket.create_connection((host.ipv4, 22), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    client.load_host_keys(str(site.hostlab.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(host.ipv4, username="root", key_filename=str(site.hostlab.identity_file),
                       sock=sock, look_for_keys=False, allow_agent=False, timeout=5)
        _, stdout, stderr = client.exec_command(command, timeout=20)
        out = stdout.read().decode()
        assert stdout.channel.recv_exit_status() == 0, (command, stderr.read().decode())
        return out
    finally:
        client.close()


def run_checks(site: LabSite, folder: Path, keyword: str = FIRST) -> tuple[int, dict[str, Any]]:
    """``rs-preflight --site <site file> -k keyword`` as a user runs it, in ``folder``."""
    run = run_preflight(site.site_file, "-k", keyword, cwd=folder, timeout=180)
    return run.code, run.doc


def outcomes(doc: dict[str, Any]) -> dict[tuple[str, str | None], str]:
    return {(r["requirement"], r["host"]): r["outcome"] for r in doc["results"]}


def expected_first(site: LabSite) -> set[tuple[str, str | None]]:
    """The (requirement, host) records FIRST selects on the small site."""
    plans = {n: p for n, p in site.scenario.hosts.items() if p.lab_host}
    out: set[tuple[str, str | None]] = {
        (req, n) for n in plans for req in ("RS-OS-01", "RS-LIMIT-01", "RS-LIMIT-02")}
    out |= {(r, n) for n, p in plans.items() if "realtime" in p.roles
            for r in ("RS-LIMIT-03", "RS-SYSCTL-01")}
    out |= {("RS-SYSCTL-02", n) for n, p in plans.items() if "search" in p.roles}
    out |= {(f"RS-ENV-0{i}", None) for i in range(1, 6)}  # site-level records: host None
    return out


def lab_context(site: LabSite) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(site.ca_path))


# -- the healthy small site ------------------------------------------------------------------------

def test_small_site_comes_up(small_site: LabSite) -> None:
    print("\nsmall site bring-up (s):", {k: round(v, 2) for k, v in small_site.timings.items()})
    assert set(small_site.hosts) == {"app1", "app2", "job1", "job2", "rt1", "db1", "deploy1",
                                     "store1"}
    assert small_site.site_file.exists()


@pytest.mark.parametrize("name", ["app1", "app2", "job1", "job2", "rt1", "db1", "deploy1"])
def test_each_host_answers_over_ssh_with_its_own_facts(small_site: LabSite, name: str) -> None:
    plan = small_site.scenario.hosts[name]
    out = ssh(small_site, name, ". /etc/os-release; echo $ID $VERSION_ID; hostname; nproc; "
                                "awk '/MemTotal/ {print $2}' /proc/meminfo; "
                                "cat /proc/sys/fs/file-max /proc/sys/vm/max_map_count; "
                                "ulimit -Sn; ulimit -Hn; tr -d '\\n' < /etc/docker/daemon.json; "
                                "echo; "
                                "df -BG --output=size / | tail -1; cat /etc/sysctl.d/*.conf")
    lines = out.splitlines()
    assert lines[0] == "ubuntu 24.04"
    assert lines[1:3] == [name, str(plan.cpus)]
    assert int(lines[3]) == plan.mem_kb()
    assert lines[4:8] == ["2097152", "262144", "8192", "100000"]
    daemon = json.loads(lines[8])
    assert daemon == {"log-driver": "json-file", "log-opts": {"max-size": "100m",
                                                              "max-file": "10"},
                      "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 8192,
                                                     "Hard": 100000}}}
    assert lines[9].strip() == "30G"
    assert "fs.file-max = 2097152" in out and "vm.max_map_count = 262144" in out


def test_dns_answers_for_the_site(small_site: LabSite) -> None:
    resolver = small_site.resolver()
    d = small_site.domain
    lb = small_site.lb_addresses
    tenant = f"rs-probe-{secrets.token_hex(4)}.{d}"
    for name in (d, tenant, f"api.{d}", f"realtime.{d}"):
        assert [r.to_text() for r in resolver.resolve(name, "A")] == [lb[0]]
    assert [r.to_text() for r in resolver.resolve(f"db1.{d}", "A")] == \
        [small_site.host("db1").ipv4]
    assert resolver.resolve(d, "MX")[0].exchange.to_text() == f"mx.{d}."
    txt = b"".join(resolver.resolve(f"rs._domainkey.{d}", "TXT")[0].strings).decode()
    pem = small_site.env["MAIL_DKIM_PRIVATE_KEY"].encode()
    public = serialization.load_pem_private_key(pem, None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert txt.endswith("p=" + base64.b64encode(public).decode())
    assert small_site.env["MAIL_DKIM_ENABLED"] == "true"


def test_lb_forwards_to_the_echo_backends(small_site: LabSite) -> None:
    session = pinned_session(small_site.pins(), ca=small_site.ca_path)
    d = small_site.domain
    with small_site.echo_backends():
        seen = set()
        for _ in range(4):
            body = session.get(f"https://tenant.{d}/probe", timeout=10).json()
            headers = {k.lower(): v for k, v in body["headers"]}
            assert headers["host"] == f"tenant.{d}"
            assert headers["x-forwarded-proto"] == "https"
            seen.add(body["server"])
        assert seen <= {"app1", "app2"} and seen
        rt = session.get(f"https://realtime.{d}/faye", timeout=10).json()
        assert rt["server"] == "rt1"
    # phase pre: nothing listens on the backends' port afterwards (RS-PORT-02 wants it free)
    listening = small_site.host("app1").ns.run(["ss", "-Htln", "sport", "= :443"]).stdout
    assert not listening.strip()


def test_imap_login_and_folders(small_site: LabSite) -> None:
    env = small_site.env
    assert small_site.mail is not None
    ctx = lab_context(small_site)
    client = _LabIMAP(small_site.mail.ipv4, env["CLACKS_ADDRESS"], ctx)
    try:
        assert client.login(env["CLACKS_USERNAME"], env["CLACKS_PASSWORD"])[0] == "OK"
        assert client.select(env["CLACKS_MAILBOX"])[0] == "OK"
        assert client.select(env["CLACKS_ARCHIVEBOX"])[0] == "OK"
    finally:
        client.logout()


class _LabIMAP(imaplib.IMAP4_SSL):
    """Implicit-TLS IMAP to ``address``, verifying the certificate for ``name``."""

    def __init__(self, address: str, name: str, context: ssl.SSLContext) -> None:
        self._address = address
        super().__init__(name, 993, ssl_context=context, timeout=10)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), timeout)
        context: ssl.SSLContext = self.ssl_context
        return context.wrap_socket(sock, server_hostname=self.host)


class _LabSMTP(smtplib.SMTP):
    def __init__(self, address: str, name: str, port: int) -> None:
        self._address = address
        super().__init__(name, port, local_hostname=f"runner.{name.split('.', 1)[1]}",
                         timeout=10)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(  # type: ignore[misc]
            self._address, port, timeout)
        return sock


def test_smtp_submission_with_auth(small_site: LabSite) -> None:
    env = small_site.env
    assert small_site.mail is not None
    smtp = _LabSMTP(small_site.mail.ipv4, env["RSERVICE_SMTP_HOST"],
                    int(env["RSERVICE_SMTP_PORT"]))
    try:
        smtp.starttls(context=lab_context(small_site))
        smtp.ehlo()
        code, _ = smtp.login(env["RSERVICE_SMTP_USERNAME"], env["RSERVICE_SMTP_PASSWORD"])
        assert code == 235
    finally:
        smtp.quit()


def test_postgres_writer_and_replica(small_site: LabSite) -> None:
    env = small_site.env
    assert env["DB_SSL_MODE"] == "VERIFY_IDENTITY"

    def connect(host: str, address: str) -> psycopg.Connection[Any]:
        return psycopg.connect(hostaddr=address, host=host, port=int(env["DB_WRITER_PORT"]),
                               user=env["DB_WRITER_USERNAME"],
                               password=env["DB_WRITER_PASSWORD"],
                               dbname=env["DB_WRITER_DATABASE"], sslmode="verify-full",
                               sslrootcert=str(small_site.ca_path), connect_timeout=5)

    with connect(env["DB_WRITER_HOST"], small_site.host("db1").ipv4) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int, "
                           "pg_is_in_recovery()").fetchone()
        assert row is not None and row[0] // 10000 == 18 and row[1] is False
    assert small_site.pg is not None and small_site.pg.reader is not None
    with connect(env["DB_READER_HOST"], small_site.pg.reader.ipv4) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        assert row == (True,)


def test_search_standin_on_job1(small_site: LabSite) -> None:
    url = small_site.env["ELASTICSEARCH_URLS"]
    assert url == f"http://job1.{small_site.domain}:9200"
    session = pinned_session({f"job1.{small_site.domain}": small_site.host("job1").ipv4})
    root = session.get(url + "/", timeout=5).json()
    assert root["version"]["distribution"] == "opensearch"
    assert root["version"]["number"].startswith("3.")
    assert session.get(url + "/_cluster/health", timeout=5).json()["status"] == "green"


def test_share_is_one_network_filesystem(small_site: LabSite) -> None:
    path = small_site.scenario.storage_path
    probe = f"{path}/probe-{secrets.token_hex(4)}"
    for name in ("app1", "app2", "job1", "job2"):
        assert ssh(small_site, name, f"findmnt -n -o FSTYPE --target {path}").strip() == \
            "fuse.sshfs"
    ssh(small_site, "app1", f"echo from-app1 > {probe}")
    try:
        assert ssh(small_site, "job2", f"cat {probe}").strip() == "from-app1"
    finally:
        ssh(small_site, "app2", f"rm -f {probe}")
    # not on the realtime, db or deploy hosts
    assert ssh(small_site, "rt1", f"test -e {path} && echo yes || echo no").strip() == "no"


def test_chrony_follows_the_lab_ntp_server(small_site: LabSite) -> None:
    small_site.wait_time_synced()
    print("\nchrony synced on every host in (s):", round(small_site.timings["ntp_sync"], 2))
    assert small_site.ntp is not None
    out = ssh(small_site, "app1", "chronyc -n sources")
    assert small_site.ntp.ipv4 in out


def test_site_file_loads_and_keeps_secrets_in_env_files(small_site: LabSite) -> None:
    site = load_site(small_site.site_file)
    assert {h.name for h in site.hosts} == {"app1", "app2", "job1", "job2", "rt1", "db1",
                                            "deploy1"}
    assert site.host("job1").roles == ("job", "search")
    assert site.dns_resolvers == (small_site.dns_address,)
    assert site.lb_addresses == tuple(small_site.lb_addresses)
    assert site.tls_ca_bundle is not None and site.tls_ca_bundle.exists()
    assert site.storage_path == "/mnt/rs-share" and site.phase == "pre"
    assert site.domain == "rs.lab"
    assert site.settings.get("CLACKS_PASSWORD", role="job")
    text = small_site.site_file.read_text()
    for name in ("ITRP_OTP_SECRET", "DB_WRITER_PASSWORD", "CLACKS_PASSWORD"):
        assert small_site.env[name] not in text
    for name in ("ITRP_COOKIE_SECRET_TOKEN", "FAYE_SECRET_TOKEN"):
        value = small_site.env[name]
        assert len(value) == 48 and int(value, 16) >= 0


def test_first_checks_pass_on_the_healthy_site(small_site: LabSite, tmp_path: Path) -> None:
    t = time.monotonic()
    code, doc = run_checks(small_site, tmp_path)
    print(f"\nrs-preflight ({FIRST}) on the small site: {time.monotonic() - t:.2f}s")
    found = outcomes(doc)
    assert set(found) == expected_first(small_site)
    assert {k: v for k, v in found.items() if v != "passed"} == {}
    assert code == 0


# -- overlays: one thing broken, exactly its requirement fails -------------------------------------

# Each gets a whole site of its own, in the test's slot (see rs_lab.scenario.Overlay on partial
# sites).
BROKEN_FIRST = ["os-unsupported", "sysctl-low", "max-map-count-low", "nofile-low",
                "nofile-realtime-low", "env-weak-secret"]


@pytest.mark.parametrize("overlay", BROKEN_FIRST)
def test_overlay_fails_exactly_its_requirement(lab_site: Any, tmp_path: Path,
                                              overlay: str) -> None:
    ov = OVERLAYS[overlay]
    scenario = Scenario.small().with_overlay(overlay)
    t = time.monotonic()
    site = lab_site(scenario)
    print(f"\n{overlay}: whole site up in {time.monotonic() - t:.2f}s")
    _, doc = run_checks(site, tmp_path)
    found = outcomes(doc)
    assert set(found) == expected_first(site)
    where = ov.host  # None: a site-level requirement
    failed = {k for k, v in found.items() if v == "failed"}
    assert failed == {(req, where) for req in ov.breaks}
    assert {v for k, v in found.items() if k not in failed} == {"passed"}


def test_overlay_changes_one_thing_only() -> None:
    base = Scenario.small()
    broken = base.with_overlay("sysctl-low")
    assert broken.hosts["rt1"].sysctls["fs.file-max"] == "65536"
    assert base.hosts["rt1"].sysctls["fs.file-max"] == "2097152"  # the original is untouched
    for name in base.hosts:
        if name != "rt1":
            assert broken.hosts[name] == base.hosts[name]
    assert broken.overlays == (("sysctl-low", "rt1"),)
    assert base.with_overlay("os-rhel8", host="db1").hosts["db1"].os == ("rhel", "8.10")
    with pytest.raises(Exception, match="unknown overlay"):
        base.with_overlay("no-such-thing")


# -- teardown -------------------------------------------------------------------------------------

def _mountinfo() -> str:
    texts = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                texts.append((proc / "mountinfo").read_text())
    return "".join(texts)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_down_leaves_nothing(tmp_path_factory: pytest.TempPathFactory, lab_lease: Lease
                             ) -> None:
    from rs_lab.workdir import remove, service_root

    root = service_root("teardown")
    slot = lab_lease.slot()
    site = LabSite(Scenario.small(slot=slot, echo=True), root / "td")
    try:
        site.up()
        print(f"\nslot {slot} full site up (s):",
              {k: round(v, 2) for k, v in site.timings.items()})
        state = site.state()
        assert ssh(site, "app1", "findmnt -n -o FSTYPE --target /mnt/rs-share").strip() == \
            "fuse.sshfs"
        sshfs_pids = [int(p) for p in ssh(site, "job1", "pgrep -x sshfs").split()]
        assert sshfs_pids
    finally:
        problems = site.down()
        remove(root)
        lab_lease.free_slot(slot)
    print(f"slot {slot} teardown (s):", round(site.timings["down"], 2))
    assert problems == []
    netns = set(subprocess.run(["ip", "netns", "list"], capture_output=True,
                               text=True).stdout.split())
    assert not netns & set(namespace_names(site.scenario))
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for index in state["indices"]:
        assert f" {PREFIX}v{index}@" not in links and f" {PREFIX}v{index}:" not in links
    assert not [p for p in state["pids"] if _alive(p)]
    assert str(site.workdir) not in _mountinfo()
    assert not site.workdir.exists()
