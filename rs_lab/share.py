"""The lab's shared network folder: an **sshfs** export, because NFS is not available here.

This kernel has no NFS server or client support usable from the lab, but ``/dev/fuse`` exists and
Debian's ``sshfs`` is installed (``scripts/setup``). So a storage *host* (a lab host with its own
sshd, :mod:`rs_lab.hosts`) exports a folder over SFTP, and each app and job host mounts it at the
same path with ``sshfs`` — a real network filesystem: ``/proc/mounts`` says ``fuse.sshfs``, a file
written on one host is read on another, and it stops working when the storage host stops.

The sshfs client runs *inside* each host (its own mount and PID namespace), so the mount lives
and dies with the host: killing the host's PID 1 ends sshfs and the mount namespace with it.

>>> share = SshfsShare(store, "/srv/rs-share", lab.identity_file, lab.known_hosts)
>>> share.export()
>>> share.mount(app1, "/mnt/rs-share")
>>> fs_type(app1, "/mnt/rs-share")          # 'fuse.sshfs'
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from rs_lab.hosts import LabHost
from rs_lab.netns import LabError

__all__ = ["SshfsShare", "fs_type", "local_folder"]

_KEY = "/root/.ssh/rs_lab_share"
_KNOWN = "/root/.ssh/rs_lab_share_known_hosts"


@dataclass
class SshfsShare:
    """``server:export`` over SFTP, mounted with sshfs on client hosts."""

    server: LabHost
    export_path: str
    identity_file: Path
    known_hosts: Path

    def export(self) -> None:
        """Create the exported folder on the storage host (world-writable, like a share)."""
        q = shlex.quote(self.export_path)
        self.server.run(f"mkdir -p {q} && chmod 1777 {q}", check=True)

    def mount(self, host: LabHost, path: str) -> None:
        """Mount the share at ``path`` inside ``host`` (sshfs as root, verified host key)."""
        q = shlex.quote(path)
        host.run(f"mkdir -p /root/.ssh {q} && chmod 700 /root/.ssh && "
                 f"cat > {_KEY} && chmod 600 {_KEY}",
                 input=self.identity_file.read_text(), check=True)
        host.run(f"cat > {_KNOWN}", input=self.known_hosts.read_text(), check=True)
        # The hosts' /dev is a small tmpfs of our own: add the FUSE device node.
        host.run("[ -e /dev/fuse ] || mknod -m 666 /dev/fuse c 10 229", check=True)
        opts = ",".join([f"IdentityFile={_KEY}", f"UserKnownHostsFile={_KNOWN}",
                         "StrictHostKeyChecking=yes", "BatchMode=yes", "ConnectTimeout=5",
                         "reconnect", "ServerAliveInterval=5", "allow_other",
                         "default_permissions"])
        remote = f"root@{self.server.ipv4}:{self.export_path}"
        # sshfs daemonizes; its output must not hold our pipes open.
        proc = host.run(f"sshfs {shlex.quote(remote)} {q} -o {opts} "
                        f">/var/log/rs-lab-sshfs.log 2>&1 </dev/null; echo $?")
        if proc.stdout.strip() != "0" or fs_type(host, path) != "fuse.sshfs":
            log = host.run("cat /var/log/rs-lab-sshfs.log").stdout
            raise LabError(f"{host.name}: sshfs mount of {remote} at {path} failed: {log}")

    def unmount(self, host: LabHost, path: str) -> None:
        host.run(f"umount -l {shlex.quote(path)}")


def local_folder(host: LabHost, path: str) -> None:
    """A plain local folder at ``path`` (what a forgotten share mount looks like)."""
    host.run(f"mkdir -p {shlex.quote(path)} && chmod 1777 {shlex.quote(path)}", check=True)


def fs_type(host: LabHost, path: str) -> str:
    """The filesystem type of the mount ``path`` sits on, as ``/proc/mounts`` says."""
    out = host.run(["findmnt", "-n", "-o", "FSTYPE", "--target", path]).stdout.strip()
    return out
