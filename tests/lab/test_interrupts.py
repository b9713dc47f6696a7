"""The runner interrupted mid-run against the lab's small site (issue 11, part 6): SIGINT and
SIGTERM while an active probe is out on the hosts.

``rs-preflight`` runs as a user runs it (``python -m rs_preflight.cli --site …`` in a folder of
its own). The signal is sent once a probe is observed on the hosts — the header-echo listener on
the backends (during the RS-LB checks, phase pre) or the shared-folder probe file (after
RS-STORAGE-01 wrote it). Then, within ``BOUND_S``: exit 2; results.json says ``complete:
false``, ``interrupted: true`` and by which signal; a check cut short is *error: interrupted*;
nothing the run printed or wrote says the gate passed; and the probe is gone from the hosts.
The measured times are in the README's "Reliability" table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rs_lab.preflight import ROOT
from rs_lab.scenario import LabSite

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("nginx") is None:  # pragma: no cover
    pytest.skip("needs root and the lab's services", allow_module_level=True)

BOUND_S = 30  # signal → process ended, reports written, probes removed (measured: see README)
BACKENDS = ("app1", "app2", "rt1")
TAG = "rs-preflight-header-probe"
SHARE = "/srv/rs-share"  # store1's export, mounted at /mnt/rs-share on the app and job hosts
PROBE = ".rs-preflight-probe-"
GATE_PASSED = re.compile(r'gate[\s:"=>]{1,4}passed|name="gate" value="passed"', re.IGNORECASE)


def listener_running(site: LabSite) -> bool:
    return TAG in site.host("app1").run(["ps", "-eo", "args"]).stdout


def listener_leftovers(site: LabSite) -> list[str]:
    found = []
    for name in BACKENDS:
        host = site.host(name)
        found += [f"{name}: {ln}" for ln in host.run(["ps", "-eo", "args"]).stdout.splitlines()
                  if TAG in ln]
        found += [f"{name}: /tmp/{f}" for f in host.run(["ls", "-A", "/tmp"]).stdout.split()
                  if f.startswith("rs-preflight-probe-")]
        found += [f"{name}: {ln}" for ln in host.ns.run(["ss", "-Htln", "sport", "= :443"]
                                                        ).stdout.strip().splitlines()]
    return found


def share_probes(site: LabSite) -> list[str]:
    return [f for f in site.host("store1").run(["ls", "-A", SHARE]).stdout.split()
            if f.startswith(PROBE)]


# (what the run is narrowed to, when to send the signal, what must be gone afterwards)
PROBES: dict[str, tuple[str, Callable[[LabSite], bool], Callable[[LabSite], list[str]]]] = {
    "header-echo": ("RS-LB", listener_running, listener_leftovers),
    "share-file": ("RS-STORAGE or RS-SYSCTL or RS-TIME or RS-TLS",
                   lambda site: bool(share_probes(site)), share_probes),
}


def interrupt(site: LabSite, folder: Path, select: str, ready: Callable[[LabSite], bool],
              sig: signal.Signals) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
    proc = subprocess.Popen(  # SIGINT may be ignored in a background job: the child gets it
        [sys.executable, "-m", "rs_preflight.cli", "--site", str(site.site_file), "-k", select],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not ready(site):
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.communicate()[0] if proc.poll() is not None else ""
                pytest.fail(f"the probe never showed while the run went on:\n{out[-3000:]}")
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=BOUND_S)
        return proc.returncode, out, time.monotonic() - sent
    finally:
        if proc.poll() is None:  # only ours, by its PID
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("probe", sorted(PROBES))
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_is_incomplete_and_leaves_no_probe(
        small_site: LabSite, tmp_path: Path, sig: signal.Signals, probe: str) -> None:
    select, ready, leftovers = PROBES[probe]
    assert leftovers(small_site) == []
    code, out, took = interrupt(small_site, tmp_path, select, ready, sig)
    print(f"{probe} {sig.name}: ended {took:.2f} s after the signal")  # the README's figures
    assert code == 2, out[-3000:]
    assert took < BOUND_S
    assert leftovers(small_site) == [], out[-3000:]

    reports = tmp_path / "rs-preflight-report"
    doc = json.loads((reports / "results.json").read_text())
    assert (doc["complete"], doc["interrupted"], doc["interrupted_by"]) == (False, True,
                                                                          sig.name)
    assert doc["gate"] != "passed" and doc["not_run"], doc["incomplete_reasons"]
    cut = [r for r in doc["results"] if r["message"].startswith("interrupted")]
    for record in cut:  # the check cut short (if the signal came inside one) decided nothing
        assert record["outcome"] == "error" and not record["gating"], record
        where = f"@{record['host']}" if record["host"] else ""
        assert f"{record['requirement']}{where}" in doc["not_run"]
    texts = {"terminal": out, **{n: (reports / n).read_text()
                                 for n in ("results.json", "report.html", "junit.xml")}}
    for name, text in texts.items():
        hit = GATE_PASSED.search(text)
        assert hit is None, (name, hit.group(0) if hit else "")
    assert re.search(r"^gate: INCOMPLETE — .*INTERRUPTED", out, re.MULTILINE), out[-3000:]
    assert 'id="incomplete"' in texts["report.html"]
    assert 'type="interrupted"' in texts["junit.xml"]
    for name in ("results.json", "report.html", "junit.xml"):
        assert (reports / name).stat().st_mode & 0o777 == 0o600
