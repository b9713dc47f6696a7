"""Lab time: an NTP server in its own namespace, and waiting for hosts' chrony clients.

The server is ``chronyd -x`` (never touches the machine's clock) with ``local stratum 8`` and
``allow``; hosts whose ``HostSpec.ntp_server`` names it run their own ``chronyd -x`` clients
(``iburst minpoll 0 maxpoll 4``: synced in about 5 s). A host with ``clock_offset_s`` runs
its chronyd under libfaketime, so ``chronyc tracking`` there reports that offset
(``../shared/LAB.md``, "Time").

>>> ntp = NtpServer(123, tmp_path / "ntp").start()
>>> host = lab.add(HostSpec("app1", 11, os_release("debian", "12"), ntp_server=ntp.address4))
>>> wait_synced(host, 30)          # the `chronyc tracking` text, Leap status : Normal
>>> ntp.stop()
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rs_lab.hosts import LabHost, check_free
from rs_lab.netns import LabError, Namespace, end_pids, ns_pids, sh

__all__ = ["NtpServer", "tracking_offset", "wait_synced"]


@dataclass
class NtpServer:
    """``chronyd`` serving its own clock at stratum 8 to the lab net."""

    index: int
    workdir: Path
    short: str = "ntp"
    ns: Namespace = field(init=False)
    _created: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.ns = Namespace(self.short, self.index)

    @property
    def address4(self) -> str:
        return self.ns.ipv4

    @property
    def address6(self) -> str:
        return self.ns.ipv6

    def start(self) -> NtpServer:
        """Create the namespace and start chronyd; returns once it answers on UDP 123."""
        if sh(["ip", "netns", "pids", self.ns.name], check=False).returncode == 0:
            # A stale namespace of ours (crashed run): deleting it removes its veth pair too.
            end_pids(ns_pids(self.ns.name))
            sh(["ip", "netns", "del", self.ns.name], check=False)
        check_free(self.ns)
        run = Path(self.workdir) / "run"
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        run.chmod(0o700)  # chronyd refuses a socket directory others can open
        conf = Path(self.workdir) / "chrony.conf"
        conf.write_text("local stratum 8\nallow all\ncmdport 0\n"
                        f"pidfile {run}/chronyd.pid\nbindcmdaddress {run}/chronyd.sock\n")
        self._created = True
        self.ns.create()
        # -d: foreground, log to stderr; -x: never steer the clock; -u root: no privilege drop.
        proc = self.ns.popen(["chronyd", "-d", "-x", "-u", "root", "-f", str(conf)],
                             log=Path(self.workdir) / "chronyd.log")
        deadline = time.monotonic() + 10
        while not self._listening():
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (Path(self.workdir) / "chronyd.log").read_text(errors="replace")
                self.stop()
                raise LabError(f"lab NTP server did not start:\n{log[-2000:]}")
            time.sleep(0.02)
        return self

    def _listening(self) -> bool:
        out = self.ns.run(["ss", "-Hlun", "sport", "= :123"], check=False).stdout
        return bool(out.strip())

    def stop(self) -> None:
        """End chronyd and remove the namespace (safe to call twice)."""
        if self._created:
            self.ns.destroy()
            self._created = False


def wait_synced(host: LabHost, timeout: float = 30) -> str:
    """Poll ``chronyc tracking`` inside ``host`` until ``Leap status : Normal``; return it."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        proc = host.run(["chronyc", "tracking"], timeout=10)
        text = proc.stdout + proc.stderr
        if _field(text, "Leap status") == "Normal":
            return text
        time.sleep(0.2)
    raise LabError(f"{host.name}: chrony not synced after {timeout}s:\n{text}")


def tracking_offset(text: str) -> float:
    """Seconds the host clock is ahead of NTP time, from ``chronyc tracking``'s
    ``System time : X seconds fast|slow of NTP time`` (slow = behind, negative here)."""
    words = _field(text, "System time").split()
    value = float(words[0])
    return value if words[2] == "fast" else -value


def _field(text: str, name: str) -> str:
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == name:
            return value.strip()
    return ""
