"""Lab hosts: "VMs" made of namespaces, each with its own facts and a real OpenSSH server.

A host is a network namespace on the lab bridge (``rs_lab.netns``) plus its own mount, UTS,
IPC, PID and cgroup namespaces. ``/`` is an overlayfs over the machine's root with a per-host
upper layer on a tmpfs, so a host can have any ``/etc/os-release``, sysctl values, CPU and
memory counts, disks and nofile limits without touching the machine; then fresh procfs and
sysfs, ``pivot_root`` and ``tini`` as PID 1. Killing PID 1 ends the whole host, and every
mount dies with its mount namespace (``../shared/LAB.md``, "Hosts").

>>> with HostLab(tmp_path) as lab:
...     app = lab.add(HostSpec("app1", lease.take(), os_release("ubuntu", "24.04"), cpus=8))
...     app.run("nproc").stdout          # '8\\n'; over SSH: root@<app.ipv4> with
...     lab.identity_file, lab.known_hosts, lab.ssh_config

Host network namespaces are named ``<prefix>-h-<name>``; ``sweep_hosts()`` removes stale ones
after a crash. Two ``HostLab``s may coexist when their names and indices differ.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rs_lab.hosts_support.facts import cpu_list, cpuinfo, meminfo, os_release
from rs_lab.netns import (
    PREFIX,
    LabError,
    Namespace,
    bridge_up,
    check_free,
    end_pids,
    ns_pids,
    sh,
)
from rs_lab.service import Addressed

__all__ = ["HostLab", "HostSpec", "LabHost", "os_release", "sweep_hosts"]

SUPPORT = Path(__file__).with_name("hosts_support")
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RSADMIN_UID = 1500
DEFAULT_ROOT_SIZE = "16G"  # `df /` shows the upper layer's tmpfs (overlayfs statfs)
_DEBIAN_LIKE = {"debian", "ubuntu", "astra"}


@dataclass
class HostSpec:
    """What one lab host looks like from the inside. See the module docstring."""

    name: str
    index: int
    os_release: str
    extra_files: dict[str, str] = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    nofile: tuple[int, int] | None = None
    cpus: int | None = None
    mem_kb: int | None = None
    disks: dict[str, str] = field(default_factory=dict)  # "/" sizes the root filesystem
    nft_rules: list[str] = field(default_factory=list)
    clock_offset_s: float = 0
    ntp_server: str | None = None
    services: list[str] = field(default_factory=list)  # "docker": start dockerd (vfs)
    # files bound over kernel files after /proc and /sys are mounted, e.g.
    # {"/sys/class/net/eth0/speed": "100"} (path inside the host → content)
    kernel_files: dict[str, str] = field(default_factory=dict)
    # symlinks in the upper layer (path inside → target), e.g. a Compose v2 CLI plugin from
    # the machine's /opt (the machine's / is the lower layer, so its files are visible)
    symlinks: dict[str, str] = field(default_factory=dict)
    # (soft, hard) nofile of dockerd itself (lowering works; raising above 20000 cannot)
    dockerd_nofile: tuple[int, int] | None = None
    # long-running processes with these command names (a copy of sleep), e.g. "Xorg", "clacks"
    processes: list[str] = field(default_factory=list)

    @property
    def os_id(self) -> str:
        for line in self.os_release.splitlines():
            if line.startswith("ID="):
                return line[3:].strip().strip('"')
        return ""


@dataclass
class LabHost(Addressed):
    """A running lab host. ``run`` executes inside it (setup and assertions, not the product).
    ``ipv4``, ``ipv6``, ``addresses``: its lab addresses (as every lab service's)."""

    spec: HostSpec
    ns: Namespace
    dir: Path
    launcher: subprocess.Popen[bytes] | None = None
    pid1: int = 0
    ssh_port: int = 22
    host_key_line: str = ""
    stopped: bool = False
    created: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    def run(self, cmd: str | Sequence[str], *, check: bool = False, timeout: float = 30,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` (a shell string, or an argv) as root inside the host."""
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        enter = ["nsenter", "-t", str(self.pid1), "-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w"]
        env = {"PATH": HOST_PATH, "HOME": "/root", "LANG": "C.UTF-8"}
        proc = subprocess.run([*enter, "--", *argv], capture_output=True, text=True,
                              timeout=timeout, input=input, env=env)
        if check and proc.returncode != 0:
            raise LabError(f"{self.name}: {cmd!r} exited {proc.returncode}: {proc.stderr}")
        return proc

    def stop(self) -> None:
        """Power the host off: kill its PID 1 (the kernel ends every process in it) and take
        its link down, so its addresses stop answering, as a switched-off VM's would."""
        if self.stopped:
            return
        self.stopped = True
        if self.pid1:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid1, signal.SIGKILL)
        if self.launcher is not None:
            try:
                self.launcher.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.launcher.kill()
        sh(["ip", "link", "set", self.ns.veth, "down"], check=False)

    def log(self) -> str:
        """The host's console: setup script, tini, sshd -e."""
        path = self.dir / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""


def sweep_hosts() -> list[str]:
    """Remove stale host namespaces (``<prefix>-h-*``) and their veths left by a crashed run.

    A deleted namespace lives on while orphaned TCP sockets (FIN_WAIT after its sshd was
    killed) refer to it, and so does its veth: kill those sockets, delete the veth by peer.
    """
    removed: list[str] = []
    links = sh(["ip", "-o", "link", "show"], check=False).stdout
    for line in sh(["ip", "netns", "list"], check=False).stdout.splitlines():
        m = re.match(rf"({re.escape(PREFIX)}-h-\S+)(?: \(id: (\d+)\))?", line)
        if not m:
            continue
        name, nsid = m.groups()
        end_pids(ns_pids(name))
        _kill_sockets(name)
        if nsid is not None:
            for veth in re.findall(rf"^\d+: ({re.escape(PREFIX)}v\d+)@\S+ .* link-netnsid {nsid} ",
                                   links, re.M):
                sh(["ip", "link", "del", veth], check=False)
                removed.append(veth)
        sh(["ip", "netns", "del", name], check=False)
        removed.append(name)
    return removed


def _kill_sockets(netns: str) -> None:
    """Destroy every TCP/UDP socket left in ``netns`` (orphans would keep it alive)."""
    sh(["ip", "netns", "exec", netns, "ss", "-K", "-a", "-t", "-u"], check=False)


class HostLab:
    """A set of lab hosts sharing one runner SSH key, ``known_hosts`` and ``ssh_config``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.hosts: dict[str, LabHost] = {}
        self._lock = threading.Lock()
        self.identity_file = self.workdir / "id_ed25519"
        self.known_hosts = self.workdir / "known_hosts"
        self.ssh_config = self.workdir / "ssh_config"
        if not self.identity_file.exists():
            sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rs-lab-runner",
                "-f", str(self.identity_file)])
        self.public_key = self.identity_file.with_suffix(".pub").read_text().strip()
        self.known_hosts.write_text("")
        self._write_ssh_config()
        self._shim = self._build_shim()

    def __enter__(self) -> HostLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def _build_shim(self) -> Path:
        out = self.workdir / "nofile_shim.so"
        sh(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", str(out),
            str(SUPPORT / "nofile_shim.c"), "-ldl"])
        return out

    # -- bring-up ---------------------------------------------------------------------------

    def add(self, spec: HostSpec) -> LabHost:
        """Bring one host up and wait until its sshd accepts connections."""
        return self.add_many([spec])[0]

    def add_many(self, specs: Iterable[HostSpec]) -> list[LabHost]:
        """Bring several hosts up in parallel; on any failure the ones started stay tracked
        (``down`` removes them) and the first error is raised."""
        specs = list(specs)
        names = [s.name for s in specs]
        clash = {n for n in names if names.count(n) > 1} | (set(names) & set(self.hosts))
        if clash:
            raise LabError(f"host names already used: {sorted(clash)}")
        bridge_up()  # once, before threads race to create it
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(specs))) as pool:
                futures = [pool.submit(self._start, spec) for spec in specs]
                return [f.result() for f in futures]
        finally:
            self._write_known_hosts()
            self._write_ssh_config()

    def _start(self, spec: HostSpec) -> LabHost:
        try:
            return self._bring_up(spec)
        except BaseException:
            host = self.hosts[spec.name]
            if not host.created:  # nothing of ours exists: forget it, the name is free again
                with self._lock:
                    del self.hosts[spec.name]
                shutil.rmtree(host.dir, ignore_errors=True)
            raise

    def _bring_up(self, spec: HostSpec) -> LabHost:
        ns = Namespace(f"h-{spec.name}", spec.index)
        hdir = self.workdir / "hosts" / spec.name
        host = LabHost(spec, ns, hdir)
        with self._lock:
            self.hosts[spec.name] = host
        if hdir.exists():
            shutil.rmtree(hdir)
        (hdir / "mnt").mkdir(parents=True)
        check_free(ns)
        host.created = True  # from here on, the namespace and veth are ours to remove
        ns.create()
        host.host_key_line = _stage(spec, hdir / "stage", self)
        (hdir / "setup.sh").write_text(_setup_script(spec, hdir))
        if spec.nft_rules:
            ns.run(["nft", "-f", "-"], input=_nft_ruleset(spec.nft_rules))
        host.launcher = ns.popen(
            ["unshare", "-m", "-u", "-i", "-p", "-C", "-f", "--propagation", "private",
             "/bin/sh", str(hdir / "setup.sh")], log=hdir / "console.log")
        host.pid1 = _wait_child(host.launcher, host)
        _wait_sshd(host)
        if "docker" in spec.services:
            _wait_docker(host)
        return host

    # -- runner-side SSH files --------------------------------------------------------------

    def _write_known_hosts(self) -> None:
        with self._lock:
            lines = [h.host_key_line for h in self.hosts.values() if h.host_key_line]
            self.known_hosts.write_text("".join(f"{line}\n" for line in lines))

    def _write_ssh_config(self) -> None:
        common = (f"  User root\n  IdentityFile {self.identity_file}\n  IdentitiesOnly yes\n"
                  f"  UserKnownHostsFile {self.known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
                  "  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n")
        blocks = [f"Host {h.name}\n  HostName {h.ipv4}\n{common}" for h in self.hosts.values()]
        addrs = " ".join(a for h in self.hosts.values() for a in (h.ipv4, h.ipv6))
        if addrs:
            blocks.append(f"Host {addrs}\n{common}")
        self.ssh_config.write_text("\n".join(blocks))

    # -- teardown ---------------------------------------------------------------------------

    def down(self) -> None:
        """Stop every host and remove its namespaces, veth, processes and files."""
        hosts = list(self.hosts.values())
        if hosts:
            with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
                list(pool.map(_destroy, hosts))
        self.hosts.clear()
        self._write_known_hosts()
        self._write_ssh_config()


def _destroy(host: LabHost) -> None:
    if not host.created:  # its name or index belonged to someone else: leave theirs alone
        return
    try:
        host.stop()
        _kill_sockets(host.ns.name)
    finally:
        host.ns.destroy()
        shutil.rmtree(host.dir, ignore_errors=True)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _wait_child(launcher: subprocess.Popen[bytes], host: LabHost, timeout: float = 10) -> int:
    """PID (as the runner sees it) of the host's PID 1: the child ``unshare -f`` forked."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = _children(launcher.pid)
        if kids:
            return kids[0]
        if launcher.poll() is not None:
            break
        time.sleep(0.005)
    raise LabError(f"host {host.name} did not start:\n{host.log()[-2000:]}")


def _wait_sshd(host: LabHost, timeout: float = 20) -> None:
    """Wait until sshd listens inside the host (seen from its own namespace: no traffic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.launcher is not None and host.launcher.poll() is not None:
            break
        out = host.ns.run(["ss", "-Htln", "sport", "= :22"], check=False).stdout
        if out.strip():
            return
        time.sleep(0.02)
    raise LabError(f"host {host.name}: sshd not listening:\n{host.log()[-2000:]}")


def _wait_docker(host: LabHost, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.run(["docker", "version"], timeout=10).returncode == 0:
            return
        time.sleep(0.1)
    log = host.run(["tail", "-20", "/var/log/dockerd.log"]).stdout
    raise LabError(f"host {host.name}: dockerd not answering:\n{log}")


# -- the host's files ------------------------------------------------------------------------


def _write(root: Path, path: str, content: str | bytes, mode: int = 0o644,
           owner: tuple[int, int] = (0, 0)) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content)
    else:
        target.write_bytes(content)
    os.chmod(target, mode)
    os.chown(target, *owner)
    return target


def _whiteout(root: Path, path: str) -> None:
    """Hide a lower-layer file: an overlayfs whiteout is a 0/0 character device."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _accounts(root: Path, public_key: str) -> None:
    passwd = Path("/etc/passwd").read_text()
    passwd += f"rsadmin:x:{RSADMIN_UID}:{RSADMIN_UID}:R-Service admin:/home/rsadmin:/bin/bash\n"
    group = Path("/etc/group").read_text() + f"rsadmin:x:{RSADMIN_UID}:\n"
    # sshd without PAM refuses locked accounts ("!"); "*" means no password, not locked.
    shadow = "".join(
        (":".join([f[0], "*", *f[2:]]) if f[0] == "root" else ":".join(f)) + "\n"
        for f in (line.split(":") for line in Path("/etc/shadow").read_text().splitlines()))
    shadow += "rsadmin:*:20000:0:99999:7:::\n"
    _write(root, "/etc/passwd", passwd)
    _write(root, "/etc/group", group)
    _write(root, "/etc/shadow", shadow, 0o640)
    skel = Path("/etc/skel")
    for home, owner in (("/root", (0, 0)), ("/home/rsadmin", (RSADMIN_UID, RSADMIN_UID))):
        # The runner's own ~/.bashrc (pyenv) must not leak into hosts: start from /etc/skel.
        for dot in (".bashrc", ".profile"):
            _write(root, f"{home}/{dot}", (skel / dot).read_text(), 0o644, owner)
        _write(root, f"{home}/.ssh/authorized_keys", public_key + "\n", 0o600, owner)
        for d in (root / home.lstrip("/") / ".ssh", root / home.lstrip("/")):
            os.chown(d, *owner)
        os.chmod(root / home.lstrip("/") / ".ssh", 0o700)
    os.chmod(root / "root", 0o700)


def _sshd_config(spec: HostSpec) -> str:
    text = ("Port 22\nListenAddress 0.0.0.0\nListenAddress ::\n"
            "HostKey /etc/ssh/ssh_host_ed25519_key\nPidFile /run/sshd.pid\n"
            "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
            "AuthorizedKeysFile .ssh/authorized_keys\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            # PAM would run pam_limits/pam_loginuid, which fail in this sandbox (LAB.md).
            "UsePAM no\nUseDNS no\nPrintMotd no\nPrintLastLog no\n"
            "MaxStartups 200:30:400\nMaxSessions 64\nLogLevel ERROR\n"
            "Subsystem sftp /usr/lib/openssh/sftp-server\n")
    if spec.clock_offset_s:
        # Sessions get the offset; sshd itself must not load libfaketime (its sandboxed
        # pre-auth child dies with SIGSYS, LAB.md).
        text += f"SetEnv LD_PRELOAD={FAKETIME_LIB} FAKETIME={_faketime(spec)}\n"
    return text


def _faketime(spec: HostSpec) -> str:
    return f"{spec.clock_offset_s:+.3f}"


def _host_key(stage: Path, spec: HostSpec) -> str:
    key = stage / "etc/ssh/ssh_host_ed25519_key"
    key.parent.mkdir(parents=True, exist_ok=True)
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{spec.name}",
        "-f", str(key)])
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


def _stage(spec: HostSpec, stage: Path, lab: HostLab) -> str:
    """Write the host's upper layer; return its known_hosts line."""
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    pub = _host_key(stage, spec)
    for old in Path("/etc/ssh").glob("ssh_host_*"):  # never show the machine's own host keys
        if not (stage / str(old).lstrip("/")).exists():
            _whiteout(stage, str(old))
    _write(stage, "/etc/ssh/sshd_config", _sshd_config(spec))
    _write(stage, "/etc/os-release", spec.os_release)
    _write(stage, "/usr/lib/os-release", spec.os_release)
    if spec.os_id not in _DEBIAN_LIKE:
        _whiteout(stage, "/etc/debian_version")
    _write(stage, "/etc/hostname", spec.name + "\n")
    ns = Namespace(f"h-{spec.name}", spec.index)
    _write(stage, "/etc/hosts", f"127.0.0.1\tlocalhost\n::1\tlocalhost\n"
                                f"{ns.ipv4}\t{spec.name}\n{ns.ipv6}\t{spec.name}\n")
    # No resolver by default: the machine's is not a lab address (LAB.md, "Safety first").
    _write(stage, "/etc/resolv.conf", "nameserver 127.0.0.1\n")
    _accounts(stage, lab.public_key)
    facts = stage / "rs-lab/facts"
    facts.mkdir(parents=True)
    if spec.cpus:
        _write(stage, "/rs-lab/facts/cpuinfo", cpuinfo(spec.cpus))
        _write(stage, "/rs-lab/facts/cpulist", cpu_list(spec.cpus))
        # nproc counts the CPU affinity, not /proc or /sys: a wrapper earlier in PATH.
        _write(stage, "/usr/local/bin/nproc", f"#!/bin/sh\necho {spec.cpus}\n", 0o755)
    if spec.mem_kb:
        _write(stage, "/rs-lab/facts/meminfo", meminfo(spec.mem_kb))
    for key, value in spec.sysctls.items():
        _write(stage, f"/rs-lab/facts/sysctl/{key}", f"{value}\n")
    if spec.nofile:
        _write(stage, "/etc/rs-lab/nofile", f"{spec.nofile[0]} {spec.nofile[1]}\n")
        _write(stage, "/usr/local/lib/rs-lab/nofile_shim.so", lab._shim.read_bytes(), 0o755)
        _write(stage, "/etc/ld.so.preload", "/usr/local/lib/rs-lab/nofile_shim.so\n")
    if spec.ntp_server:
        _write(stage, "/etc/chrony/chrony.conf",
               f"server {spec.ntp_server} iburst minpoll 0 maxpoll 4\n"
               "driftfile /var/lib/chrony/chrony.drift\npidfile /run/chrony/chronyd.pid\n"
               "bindcmdaddress /run/chrony/chronyd.sock\n")
    _write(stage, "/rs-lab/init.sh", _init_script(spec), 0o755)
    for path, content in spec.extra_files.items():
        _write(stage, path, content)
    for n, (_path, content) in enumerate(sorted(spec.kernel_files.items())):
        _write(stage, f"/rs-lab/facts/kernel/{n}", f"{content}\n")
    for path, target in spec.symlinks.items():
        link = stage / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    for name in spec.processes:
        _write(stage, f"/usr/local/lib/rs-lab/bin/{name}", Path("/bin/sleep").read_bytes(),
               0o755)
    return f"{spec.name},{ns.ipv4},{ns.ipv6} {pub}"


def _init_script(spec: HostSpec) -> str:
    """tini's child: start the host's daemons, then sshd in the foreground."""
    lines = ["#!/bin/sh", "mkdir -p /run/sshd /run/chrony /var/lib/chrony",
             # chronyd refuses a socket directory that others can open
             "chmod 0755 /run/sshd; chmod 0750 /run/chrony"]
    fake = (f"env LD_PRELOAD={FAKETIME_LIB} FAKETIME={_faketime(spec)} "
            if spec.clock_offset_s else "")
    if spec.ntp_server:
        # -x: never touch the machine's clock; -u root: no privilege drop into our dirs.
        lines.append(f"{fake}/usr/sbin/chronyd -x -u root -f /etc/chrony/chrony.conf")
    if "docker" in spec.services:
        # Debian's docker.io 20.10 inside a namespace host (LAB.md, "Docker"); flags, not
        # daemon.json, so the host's daemon.json stays what the test wrote (no overlap allowed).
        limit = (f"prlimit --nofile={spec.dockerd_nofile[0]}:{spec.dockerd_nofile[1]} "
                 if spec.dockerd_nofile else "")
        lines.append(f"mkdir -p /var/log; {limit}/usr/sbin/dockerd --storage-driver=vfs"
                     " --iptables=false --ip6tables=false --bridge=none --ip-masq=false"
                     " >/var/log/dockerd.log 2>&1 &")
    for name in spec.processes:
        lines.append(f"/usr/local/lib/rs-lab/bin/{shlex.quote(name)} infinity &")
    lines.append("exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config")
    return "\n".join(lines) + "\n"


def _setup_script(spec: HostSpec, hdir: Path) -> str:
    """Runs as PID 1 of the new PID and mount namespaces; ends by exec'ing tini."""
    q = shlex.quote
    root_size = spec.disks.get("/", DEFAULT_ROOT_SIZE)
    m = hdir / "mnt"
    r = m / "root"
    out = ["set -eu",
           f"mount -t tmpfs -o size={root_size},mode=755 rs-host {q(str(m))}",
           f"mkdir -p {q(str(m / 'upper'))} {q(str(m / 'work'))} {q(str(r))}",
           f"cp -a {q(str(hdir / 'stage'))}/. {q(str(m / 'upper'))}/",
           f"mount -t overlay overlay -o lowerdir=/,upperdir={q(str(m / 'upper'))},"
           f"workdir={q(str(m / 'work'))} {q(str(r))}",
           f"R={q(str(r))}",
           'mount -t proc proc "$R/proc"',
           'mount -t sysfs sysfs "$R/sys"',
           # dockerd needs a cgroup tree ("Devices cgroup isn't mounted"); ours, via cgroupns.
           'mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup" || true',
           'mount -t tmpfs -o size=16m,mode=755 udev "$R/dev"',
           # Device nodes, not bind mounts: a bind would be one more line in `df`.
           'mknod -m 666 "$R/dev/null" c 1 3; mknod -m 666 "$R/dev/zero" c 1 5',
           'mknod -m 666 "$R/dev/full" c 1 7; mknod -m 666 "$R/dev/random" c 1 8',
           'mknod -m 666 "$R/dev/urandom" c 1 9; mknod -m 666 "$R/dev/tty" c 5 0',
           'mkdir "$R/dev/pts" "$R/dev/shm"',
           'mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"',
           'ln -s pts/ptmx "$R/dev/ptmx"; ln -s /proc/self/fd "$R/dev/fd"',
           'ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"',
           'ln -s /proc/self/fd/2 "$R/dev/stderr"',
           'mount -t tmpfs -o size=256m,mode=1777 tmpfs "$R/dev/shm"',
           'mount -t tmpfs -o size=64m,mode=755 tmpfs "$R/run"',
           'mount -t tmpfs -o size=1g,mode=1777 tmpfs "$R/tmp"',
           # Fact files bound from /run's tmpfs: `df` folds same-device mounts into /run.
           'cp -a "$R/rs-lab/facts" "$R/run/rs-lab-facts"']
    facts = "$R/run/rs-lab-facts"
    binds: list[tuple[str, str]] = []
    if spec.cpus:
        binds.append((f"{facts}/cpuinfo", "$R/proc/cpuinfo"))
        binds += [(f"{facts}/cpulist", f"$R/sys/devices/system/cpu/{f}")
                  for f in ("online", "present", "possible")]
    if spec.mem_kb:
        binds.append((f"{facts}/meminfo", "$R/proc/meminfo"))
    for key in spec.sysctls:
        binds.append((f"{facts}/sysctl/{key}", "$R/proc/sys/" + key.replace(".", "/")))
    for n, (path, _content) in enumerate(sorted(spec.kernel_files.items())):
        binds.append((f"{facts}/kernel/{n}", "$R" + path))
    out += [f'mount --bind "{src}" "{dst}"' for src, dst in binds]
    disks = sorted((m, s) for m, s in spec.disks.items() if m != "/")
    for n, (mountpoint, size) in enumerate(disks):
        dst = '"$R"' + q(mountpoint)
        out += [f"mkdir -p {dst}",
                f"mount -t tmpfs -o size={q(size)} /dev/vd{chr(ord('b') + n)} {dst}"]
    out += [f"hostname {q(spec.name)}",
            'cd "$R"', "mkdir -p .rs-oldroot", "pivot_root . .rs-oldroot", "cd /",
            "umount -l /.rs-oldroot", "rmdir /.rs-oldroot",
            f"exec env -i PATH={HOST_PATH} LANG=C.UTF-8 /usr/bin/tini -- /rs-lab/init.sh"]
    return "\n".join(out) + "\n"


def _nft_ruleset(rules: Sequence[str]) -> str:
    body = "".join(f"    {rule}\n" for rule in rules)
    return (f"table inet rslab {{\n  chain input {{\n"
            f"    type filter hook input priority 0; policy accept;\n{body}  }}\n}}\n")
