"""Lab time: an NTP server in its own namespace, and waiting for hosts' chrony clients.

The server is ``chronyd -x`` (never touches the machine's clock) with ``local stratum 8`` and
``allow``; hosts whose ``HostSpec.ntp_server`` names it run their own ``chronyd -x`` clients
(``iburst minpoll 0 maxpoll 4``: synced in about 5 s). A host with ``clock_offset_s`` runs
its chronyd under libfaketime, so ``chronyc tracking`` there reports that offset
(``../shared/LAB.md``, "Time").

>>> ntp = NtpServer(lease.take(), tmp_path / "ntp").start()
>>> host = lab.add(HostSpec("app1", lease.take(), os_release("debian", "12"),
...                         ntp_server=ntp.ipv4))
>>> wait_synced(host, 30)          # the `chronyc tracking` text, Leap status : Normal
>>> ntp.stop()
"""

from __future__ import annotations

import time
from pathlib import Path

from rs_lab.hosts import LabHost
from rs_lab.netns import LabError
from rs_lab.service import LabService

__all__ = ["NtpServer", "tracking_offset", "wait_synced"]


class NtpServer(LabService):
    """``chronyd`` serving its own clock at stratum 8 to the lab net, in a namespace of its own
    (``ns_short``, default ``ntp``) at ``index``."""

    short = "ntp"

    def __init__(self, index: int, workdir: Path, short: str = "ntp") -> None:
        super().__init__(index, workdir, ns_short=short)

    def _start(self) -> None:
        """Start chronyd; return once it answers on UDP 123."""
        run = self.workdir / "run"
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        run.chmod(0o700)  # chronyd refuses a socket directory others can open
        conf = self.workdir / "chrony.conf"
        conf.write_text("local stratum 8\nallow all\ncmdport 0\n"
                        f"pidfile {run}/chronyd.pid\nbindcmdaddress {run}/chronyd.sock\n")
        # -d: foreground, log to stderr; -x: never steer the clock; -u root: no privilege drop.
        proc = self.popen(["chronyd", "-d", "-x", "-u", "root", "-f", str(conf)], "chronyd.log")
        deadline = time.monotonic() + 10
        while not self._listening():
            self.check_alive(proc, "chronyd.log")
            if time.monotonic() > deadline:
                raise LabError(f"lab NTP server did not start:\n{self.log_tail('chronyd.log')}")
            time.sleep(0.02)

    def _listening(self) -> bool:
        out = self.ns.run(["ss", "-Hlun", "sport", "= :123"], check=False).stdout
        return bool(out.strip())


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
