"""Parallel runs against the lab: ``-n 2`` says what a serial run says, gathering each host once,
and unreachable hosts wait out their connect timeouts together, not in turn.

Structure is asserted, never speed (benchmarks/scale.py measures that): equal reports, round
trips per host, and which connects had started before the first timeout ended.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.preflight import Run, run_preflight
from rs_lab.scenario import LabSite
from rs_preflight.gather import access, state
from rs_preflight.gather.state import RunState
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.errors import HostUnreachable
from rs_preflight.spec.site import load_site

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("nft") is None:  # pragma: no cover
    pytest.skip("needs root and the lab's packages (scripts/setup)", allow_module_level=True)

# What two runs of the same site measure differently: times, clock offsets, the random tenant
# label (a session fixture: one per process), probe file names, mail UIDs
MEASURED = [(re.compile(r"rs-preflight-[0-9a-z]{6,}"), "TENANT"),
            (re.compile(r"probe-[0-9a-f]{8,}"), "probe-ID"),
            (re.compile(r"\b(ahead of|behind)\b"), "off"),
            (re.compile(r"\d+(\.\d+)?"), "N")]
TEXTS = ("message", "expected", "found")


def measured_out(text: str) -> str:
    for pattern, value in MEASURED:
        text = pattern.sub(value, text)
    return text


def comparable(run: Run) -> dict[str, Any]:
    """A run's results with the measurements taken out: every verdict, severity, host and
    remediation stays; the evidence by the command that gave it (its output is a process
    list, flow timings: what the host said at that moment)."""
    results = []
    for record in run.doc["results"]:
        out = {k: v for k, v in record.items() if k not in ("duration_s", "evidence")}
        out.update({k: measured_out(record[k]) for k in TEXTS if record.get(k)})
        out["evidence"] = (record["evidence"] or "").split("\n", 1)[0]
        results.append(out)
    hosts = {h: {k: v for k, v in info.items() if k != "gather_s"}
             for h, info in run.doc["hosts"].items()}
    rest = {k: v for k, v in run.doc.items() if k not in ("start", "end", "results", "hosts")}
    return {"results": sorted(results, key=lambda r: r["id"]), "hosts": hosts, "rest": rest}


def test_two_workers_say_what_a_serial_run_says_gathering_each_host_once(
        small_site: LabSite, tmp_path: Path) -> None:
    (tmp_path / "serial").mkdir()
    (tmp_path / "n2").mkdir()
    serial = run_preflight(small_site.site_file, cwd=tmp_path / "serial", timeout=600)
    parallel = run_preflight(small_site.site_file, "-n", "2", cwd=tmp_path / "n2", timeout=600)
    one, two = comparable(serial), comparable(parallel)
    assert two["results"] == one["results"]
    assert two["rest"] == one["rest"]
    assert parallel.code == serial.code
    # each host gathered by exactly one worker: the round trips of a serial run (the fact
    # script and the clock samples), none twice — RS-TIME-02 and RS-STORAGE-01 run on a worker
    # that gathered few of the hosts they read; those came relayed
    trips = {h: info["round_trips"] for h, info in two["hosts"].items()}
    assert trips == {h: info["round_trips"] for h, info in one["hosts"].items()}
    assert all(n >= 1 for h, n in trips.items() if one["hosts"][h]["reachable"])
    assert two["hosts"] == one["hosts"]
    # the active probes ran once: the share probe was written on one host only
    storage = [r for r in parallel.doc["results"] if r["requirement"] == "RS-STORAGE-01"]
    writers = [r["host"] for r in storage if "written here" in r["message"]]
    assert len(writers) == 1, [r["message"] for r in storage]


# -- unreachable hosts: one connect timeout in total ----------------------------------------------

REACHABLE = [HostSpec(f"par{i}", i, os_release("ubuntu", "24.04")) for i in (121, 122)]
BLACKHOLED = [HostSpec(f"hole{i}", i, os_release("ubuntu", "24.04"),
                       nft_rules=["tcp dport 22 drop"]) for i in (123, 124, 125, 126, 127)]


@pytest.fixture(scope="module")
def some_unreachable(host_lab: HostLab) -> Iterator[list[LabHost]]:
    yield host_lab.add_many(REACHABLE + BLACKHOLED)


def test_unreachable_hosts_wait_out_their_connect_timeouts_together(
        host_lab: HostLab, some_unreachable: list[LabHost], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Five hosts drop SYNs to :22, and only two hosts are worked on at once: every TCP
    connect still starts before the first one times out. (One pool of two threads would start
    them two by two; a lock shared by every host's connect would start them one by one.)"""
    site_file = tmp_path / "site.yaml"
    site_file.write_text("\n".join(
        ["name: unreachable", "profile: small", "phase: post", "ssh:", "  user: root",
         f"  identity_file: {host_lab.identity_file}", f"  known_hosts: {host_lab.known_hosts}",
         "  host_key_policy: strict", "  connect_timeout: 3", "  command_timeout: 30", "hosts:"]
        + [f"  {h.name}: {{address: {h.ipv4}, roles: [app]}}" for h in some_unreachable])
        + "\n")
    monkeypatch.setattr(state, "PARALLEL_HOSTS", 2)
    by_address = {h.ipv4: h.name for h in some_unreachable}
    connects: dict[str, tuple[float, float, bool]] = {}  # host → TCP connect start, end, ok
    lock = threading.Lock()
    real_socket = access._nodelay_socket

    def timed_socket(address: str, port: int, timeout: float) -> socket.socket:
        start, ok = time.monotonic(), False
        try:
            sock = real_socket(address, port, timeout)
            ok = True
            return sock
        finally:
            with lock:
                connects[by_address[address]] = (start, time.monotonic(), ok)

    monkeypatch.setattr(access, "_nodelay_socket", timed_socket)
    run = RunState.create(load_site(site_file), load_catalogue())
    try:
        good = run.facts(run.site.host("par121"))
        assert good.round_trips == 1
        gathered = run.gathered()
    finally:
        run.cleanup()
    holes = [h.name for h in BLACKHOLED]
    for name in holes:
        failed = gathered[name]
        assert isinstance(failed, HostUnreachable) and "timed out after 3s" in str(failed)
    assert not isinstance(gathered["par122"], HostUnreachable)
    assert {n: ok for n, (_, _, ok) in connects.items()} == {
        **{h.name: True for h in REACHABLE}, **dict.fromkeys(holes, False)}
    first_timeout_ended = min(connects[n][1] for n in holes)
    assert all(start < first_timeout_ended for start, _, _ in connects.values())
