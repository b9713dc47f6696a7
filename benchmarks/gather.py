"""Benchmark: how long gathering a site's facts takes, and how many round trips it costs.

Brings up N lab hosts (namespace hosts with real sshd, rs_lab.hosts), then measures:
- rs-preflight's way: one connection per host (TCP_NODELAY, known_hosts verified), every fact
  section in ONE remote command, hosts in parallel;
- the naive way for comparison: testinfra's own paramiko backend (Nagle on), one remote command
  per fact section, hosts one after another.

    python3 benchmarks/gather.py [--hosts 8] [--repeat 3]

Prints a small table. Root, Linux; uses namespace indices 90-98 (RS_LAB_NET as the lab).
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release  # noqa: E402
from rs_preflight.gather.facts import (  # noqa: E402
    SECTIONS,
    Context,
    HostFacts,
    build_script,
    commands,
)
from rs_preflight.gather.state import RunState  # noqa: E402
from rs_preflight.spec.catalogue import load_catalogue  # noqa: E402
from rs_preflight.spec.kinds import needs_for  # noqa: E402
from rs_preflight.spec.site import Host, Site, SshSettings  # noqa: E402


def site_for(lab: HostLab, hosts: list[LabHost]) -> Site:
    ssh = SshSettings(user="root", identity_file=lab.identity_file, known_hosts=lab.known_hosts)
    return Site(name="bench", file=None, ssh=ssh, profile="small", phase="pre",
                hosts=tuple(Host(h.name, h.ipv4, ("app",)) for h in hosts))


def ours(site: Site) -> tuple[float, int]:
    state = RunState.create(site, load_catalogue())
    t0 = time.perf_counter()
    for host in site.hosts:
        state.facts(host)  # the first call gathers every host in parallel
    elapsed = time.perf_counter() - t0
    trips = sum(f.round_trips for f in state.gathered().values() if isinstance(f, HostFacts))
    state.cleanup()
    return elapsed, trips


def naive(site: Site) -> tuple[float, int]:
    from testinfra.backend.paramiko import ParamikoBackend
    from testinfra.host import Host as TestinfraHost

    catalogue = load_catalogue()
    t0 = time.perf_counter()
    trips = 0
    for host in site.hosts:
        thost = TestinfraHost(ParamikoBackend(f"root@{host.address}",
                                              ssh_identity_file=str(site.ssh.identity_file)))
        ctx = Context(site, host, needs_for(catalogue.values()))
        for name in sorted(SECTIONS):
            thost.run("sh -c %s", build_script(ctx, "@@m@@", commands(ctx, [name])[0]))
            trips += 1
        thost.backend.client.close()
    return time.perf_counter() - t0, trips


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, HostLab(Path(tmp)) as lab:
        t0 = time.perf_counter()
        hosts = lab.add_many([HostSpec(f"bench{i}", 90 + i, os_release("ubuntu", "24.04"),
                                       nofile=(8192, 100000)) for i in range(args.hosts)])
        up = time.perf_counter() - t0
        site = site_for(lab, hosts)
        rows = {"rs-preflight (1 exec/host, parallel, NODELAY)": [ours(site)
                                                                  for _ in range(args.repeat)],
                "naive (1 exec/section, serial, testinfra paramiko)": [
                    naive(site) for _ in range(args.repeat)]}
    print(f"{args.hosts} lab hosts up in {up:.2f} s; {len(SECTIONS)} fact sections per host")
    for label, runs in rows.items():
        times = [r[0] for r in runs]
        print(f"{label:<52} median {statistics.median(times):6.3f} s  "
              f"round trips {runs[0][1]:4d}")


if __name__ == "__main__":
    main()
