"""Lab hosts answer over real SSH with their own facts, and leave nothing behind.

Connections are made the way the product makes them: paramiko, known_hosts verification on
(RejectPolicy), TCP_NODELAY, the lab's runner key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.netns import PREFIX
from rs_lab.ntp import NtpServer, tracking_offset, wait_synced

pytestmark = pytest.mark.lab

GIB_KB = 1024 * 1024


def connect(lab: HostLab, host: LabHost, *, user: str = "root", known_hosts: Path | None = None,
            address: str | None = None, timeout: float = 5) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts or lab.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    address = address or host.ipv4
    sock = socket.create_connection((address, host.ssh_port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        client.connect(address, username=user, key_filename=str(lab.identity_file), sock=sock,
                       look_for_keys=False, allow_agent=False, timeout=timeout,
                       auth_timeout=timeout, banner_timeout=timeout)
    except BaseException:
        client.close()
        sock.close()
        raise
    return client


def execute(client: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = client.exec_command(command, timeout=20)
    out = stdout.read().decode()
    rc = stdout.channel.recv_exit_status()
    assert rc == 0, (command, rc, out, stderr.read().decode())
    return out


UBUNTU = HostSpec(  # index 0: each test module's copy gets one from its lease
    "app61", 0, os_release("ubuntu", "24.04"),
    extra_files={"/etc/docker/daemon.json": '{"log-driver": "json-file"}\n',
                 "/etc/sysctl.d/99-rs.conf": "fs.file-max = 2097152\n"},
    sysctls={"fs.file-max": "2097152", "vm.max_map_count": "262144"},
    nofile=(8192, 65536), cpus=8, mem_kb=16 * GIB_KB, disks={"/opt": "30G", "/": "50G"})
RHEL = HostSpec(
    "rt62", 0, os_release("rhel", "9.4"),
    extra_files={"/etc/redhat-release": "Red Hat Enterprise Linux release 9.4 (Plow)\n"},
    sysctls={"fs.file-max": "9223372036854775807", "vm.max_map_count": "65530"},
    nofile=(1024, 4096), cpus=2, mem_kb=4 * GIB_KB, disks={"/var/lib/docker": "100G"})


@pytest.fixture(scope="module")
def pair(host_lab: HostLab, lab_lease: Lease) -> list[LabHost]:
    return host_lab.add_many([dataclasses.replace(UBUNTU, index=lab_lease.take()),
                              dataclasses.replace(RHEL, index=lab_lease.take())])


@pytest.fixture(scope="module")
def clients(host_lab: HostLab, pair: list[LabHost]) -> Iterator[dict[str, paramiko.SSHClient]]:
    conns = {h.name: connect(host_lab, h) for h in pair}
    yield conns
    for client in conns.values():
        client.close()


def _df_size_kb(df: str, mountpoint: str) -> int:
    for line in df.splitlines()[1:]:
        fields = line.split()
        if fields[-1] == mountpoint:
            return int(fields[1])
    raise AssertionError(f"{mountpoint} not in df:\n{df}")


@pytest.mark.parametrize(("name", "version_id"), [("app61", '"24.04"'), ("rt62", '"9.4"')])
def test_os_release(clients: dict[str, paramiko.SSHClient], name: str, version_id: str) -> None:
    out = execute(clients[name], "cat /etc/os-release")
    assert f"VERSION_ID={version_id}" in out.splitlines()


def test_facts_over_ssh(clients: dict[str, paramiko.SSHClient]) -> None:
    for spec in (UBUNTU, RHEL):
        client = clients[spec.name]
        assert execute(client, "sysctl -n fs.file-max").strip() == spec.sysctls["fs.file-max"]
        assert (execute(client, "cat /proc/sys/vm/max_map_count").strip()
                == spec.sysctls["vm.max_map_count"])
        assert spec.nofile is not None and spec.cpus is not None
        assert execute(client, "sh -c 'ulimit -Sn; ulimit -Hn'").split() == [
            str(n) for n in spec.nofile]
        assert execute(client, "ulimit -Sn").strip() == str(spec.nofile[0])  # bash, non-login
        py = ("import os, resource; "
              "print(*resource.getrlimit(resource.RLIMIT_NOFILE), os.cpu_count())")
        assert execute(client, f'python3 -c "{py}"').split() == [
            str(spec.nofile[0]), str(spec.nofile[1]), str(spec.cpus)]
        assert execute(client, "nproc").strip() == str(spec.cpus)
        assert execute(client, "grep -c ^processor /proc/cpuinfo").strip() == str(spec.cpus)
        assert execute(client, "cat /sys/devices/system/cpu/online").strip() == f"0-{spec.cpus - 1}"
        meminfo = execute(client, "cat /proc/meminfo").splitlines()
        assert meminfo[0].split() == ["MemTotal:", str(spec.mem_kb), "kB"]
        df = execute(client, "df -P")
        for mountpoint, size in spec.disks.items():
            assert _df_size_kb(df, mountpoint) == int(size.rstrip("G")) * GIB_KB
        assert execute(client, "hostname").strip() == spec.name


def test_extra_files_and_distribution_markers(clients: dict[str, paramiko.SSHClient]) -> None:
    ubuntu, rhel = clients["app61"], clients["rt62"]
    assert execute(ubuntu, "cat /etc/docker/daemon.json") == UBUNTU.extra_files[
        "/etc/docker/daemon.json"]
    assert "9.4" in execute(rhel, "cat /etc/redhat-release")
    assert execute(rhel, "test -e /etc/debian_version || echo absent").strip() == "absent"
    # The machine's own host keys are hidden; only the host's own key is there.
    assert execute(rhel, "ls /etc/ssh/ | grep ssh_host_").split() == [
        "ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]


def test_rsadmin_logs_in_with_the_same_key(host_lab: HostLab, pair: list[LabHost]) -> None:
    client = connect(host_lab, pair[0], user="rsadmin")
    try:
        assert execute(client, "id -un; echo $HOME").split() == ["rsadmin", "/home/rsadmin"]
        assert execute(client, "ulimit -Hn").strip() == "65536"
    finally:
        client.close()


def test_ipv6_and_openssh_client(host_lab: HostLab, pair: list[LabHost]) -> None:
    client = connect(host_lab, pair[1], address=pair[1].ipv6)
    try:
        assert execute(client, "hostname").strip() == "rt62"
    finally:
        client.close()
    proc = subprocess.run(["ssh", "-F", str(host_lab.ssh_config), "app61", "nproc"],
                          capture_output=True, text=True, timeout=20, check=False)
    assert (proc.returncode, proc.stdout) == (0, "8\n"), proc.stderr


def test_unknown_host_key_is_refused(host_lab: HostLab, pair: list[LabHost],
                                     tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(host_lab, pair[0], known_hosts=empty)


def test_another_hosts_key_is_refused(host_lab: HostLab, pair: list[LabHost],
                                      tmp_path: Path) -> None:
    ubuntu, rhel = pair
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{ubuntu.ipv4} {rhel.host_key_line.split(' ', 1)[1]}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        connect(host_lab, ubuntu, known_hosts=wrong)


def test_stopped_host_stops_answering(host_lab: HostLab, lab_lease: Lease) -> None:
    host = host_lab.add(HostSpec("gone63", lab_lease.take(), os_release("debian", "12")))
    connect(host_lab, host).close()
    host.stop()
    with pytest.raises(OSError):  # timeout or EHOSTUNREACH: the address no longer answers
        socket.create_connection((host.ipv4, 22), timeout=1).close()
    assert not Path(f"/proc/{host.pid1}").exists() or _zombie(host.pid1)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_nft_drop_is_filtered_and_closed_port_is_refused(host_lab: HostLab, lab_lease: Lease,
                                                        family: str) -> None:
    host = host_lab.hosts.get("fw64") or host_lab.add(
        HostSpec("fw64", lab_lease.take(), os_release("ubuntu", "24.04"),
                 nft_rules=["tcp dport 5432 drop"]))
    address = host.ipv4 if family == "ipv4" else host.ipv6
    with pytest.raises(TimeoutError):
        socket.create_connection((address, 5432), timeout=1).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, 5433), timeout=5).close()


def test_chrony_syncs_and_faketime_shows_offset(host_lab: HostLab, lab_lease: Lease,
                                                ntp_server: NtpServer) -> None:
    synced, skewed = host_lab.add_many([
        HostSpec("ntp65", lab_lease.take(), os_release("debian", "12"),
                 ntp_server=ntp_server.ipv4),
        HostSpec("skew66", lab_lease.take(), os_release("astra", "1.8_x86-64"),
                 ntp_server=ntp_server.ipv4, clock_offset_s=3600)])
    text = wait_synced(synced, timeout=60)
    assert f"({ntp_server.ipv4})" in text
    assert abs(tracking_offset(text)) < 1
    assert abs(tracking_offset(wait_synced(skewed, timeout=60)) - 3600) < 5
    client = connect(host_lab, skewed)
    try:  # what the product sees over SSH
        out = execute(client, "chronyc tracking")
        assert "Leap status     : Normal" in out
        assert abs(tracking_offset(out) - 3600) < 5
    finally:
        client.close()


def test_no_daemon_means_chronyc_cannot_talk(pair: list[LabHost]) -> None:
    proc = pair[0].run(["chronyc", "tracking"])
    assert "506 Cannot talk to daemon" in proc.stdout + proc.stderr


def test_down_leaves_nothing(tmp_path: Path, lab_lease: Lease) -> None:
    workdir = tmp_path / "lab"
    lab = HostLab(workdir)
    try:
        hosts = lab.add_many([HostSpec(f"td{i}", i, os_release("debian", "12"), cpus=1,
                                       disks={"/data": "1G"}, nofile=(8192, 65536))
                              for i in lab_lease.block(2)])
        for host in hosts:
            assert host.run("df -P /data").returncode == 0
        open_client = connect(lab, hosts[0])  # still connected at teardown, like the product
        pids = [h.pid1 for h in hosts] + [h.launcher.pid for h in hosts if h.launcher]
        names = {h.ns.name for h in hosts}
        veths = {h.ns.veth for h in hosts}
    finally:
        lab.down()
    open_client.close()
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not names & {line.split()[0] for line in netns.splitlines() if line.strip()}
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert not [v for v in veths if f" {v}@" in links or f" {v}:" in links]
    assert all(v.startswith(f"{PREFIX}v") for v in veths)
    assert not [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
    assert str(workdir) not in _all_mountinfo()
    assert not (workdir / "hosts").exists() or not any((workdir / "hosts").iterdir())


def _all_mountinfo() -> str:
    """Mount tables of every process's mount namespace (hosts mount in their own)."""
    texts = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                texts.append((proc / "mountinfo").read_text())
    return "".join(texts)


def test_docker_service_reflects_daemon_json(host_lab: HostLab, lab_lease: Lease) -> None:
    daemon_json = '{"log-driver": "local", "log-opts": {"max-size": "100m"}}\n'
    host = host_lab.add(HostSpec("dock69", lab_lease.take(), os_release("ubuntu", "24.04"),
                                 extra_files={"/etc/docker/daemon.json": daemon_json},
                                 services=["docker"]))
    client = connect(host_lab, host)
    try:
        out = execute(client, "docker info --format '{{.LoggingDriver}} {{.Driver}}'")
        assert out.split() == ["local", "vfs"]
        assert execute(client, "pgrep -x dockerd").strip().isdigit()
    finally:
        client.close()
