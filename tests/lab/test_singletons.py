"""RS-SINGLETON-01 on a real Docker host: a container and the processes inside it are one
instance (its process shows in the host's process list too), bare processes count one each.

One namespace host (job97, dockerd with vfs) runs clacks and delayed-job-periodic as containers
(static pause binaries imported as one-file images, ``rs_lab.containers``) and as bare processes,
one and two instances each; the product runs as a user runs it (``-k RS-SINGLETON-01``, phase
post) and ``results.json`` is read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.containers import import_program, remove_container, run_container
from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.preflight import run_preflight

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("dockerd") is None:  # pragma: no cover
    pytest.skip("needs root and dockerd", allow_module_level=True)

NAME = "job97"
BARE = "/usr/local/bin"


@pytest.fixture(scope="module")
def docker_host(host_lab: HostLab, lab_lease: Lease, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[LabHost, Path]]:
    host = host_lab.add(HostSpec(NAME, lab_lease.take(), os_release("ubuntu", "24.04"),
                                 services=["docker"]))
    deadline = time.monotonic() + 60
    while host.run("docker info >/dev/null 2>&1").returncode != 0:
        assert time.monotonic() < deadline, "dockerd did not answer"
        time.sleep(0.5)
    work = tmp_path_factory.mktemp("singletons")
    for program in ("clacks", "delayed-job-periodic"):
        import_program(host, program, work)
        host.run(f"cp /bin/sleep {BARE}/{program}", check=True)  # the bare-process variant
    yield host, work


def run_check(host: LabHost, host_lab: HostLab, folder: Path) -> dict[str, Any]:
    lines = ["name: singletons", "profile: small", "ssh:", "  user: root",
             f"  identity_file: {host_lab.identity_file}",
             f"  known_hosts: {host_lab.known_hosts}", "  connect_timeout: 3",
             "  command_timeout: 20", "hosts:",
             f"  {NAME}: {{address: {host.ipv4}, roles: [job]}}"]
    site = folder / "site.yaml"
    site.write_text("\n".join(lines) + "\n")
    run = run_preflight(site, "--phase", "post", "-k", "RS-SINGLETON-01", cwd=folder)
    return run["RS-SINGLETON-01"]


def bare(host: LabHost, program: str) -> str:
    return host.run(f"nohup {BARE}/{program} infinity >/dev/null 2>&1 & echo $!",
                    check=True).stdout.strip()


TWICE = f"runs 2 times ({NAME}, {NAME})"


@pytest.mark.parametrize(("clacks", "djp", "outcome", "words"), [
    # (clacks, delayed-job-periodic): how many containers and bare processes of each
    ({"containers": 1}, {"processes": 1}, "passed", "run exactly once"),  # was "2 times"
    ({"containers": 2}, {"processes": 2}, "failed",
     f"delayed-job-periodic {TWICE}; clacks {TWICE}"),
    ({"containers": 1, "processes": 1}, {"containers": 1}, "failed", f"clacks {TWICE}"),
], ids=["one-container-one-process", "two-containers-two-processes", "container-and-process"])
def test_singletons_count_instances(docker_host: tuple[LabHost, Path], host_lab: HostLab,
                                    clacks: dict[str, int], djp: dict[str, int], outcome: str,
                                    words: str) -> None:
    host, work = docker_host
    started: list[str] = []
    pids: list[str] = []
    try:
        for program, counts in (("clacks", clacks), ("delayed-job-periodic", djp)):
            for i in range(counts.get("containers", 0)):
                name = program if i == 0 else f"{program}-{i + 1}"
                run_container(host, f"rslab/{program}", name, program)
                started.append(name)
            pids += [bare(host, program) for _ in range(counts.get("processes", 0))]
        shown = host.run(["ps", "-e", "-o", "args="]).stdout.splitlines()
        for program, counts in (("clacks", clacks), ("delayed-job-periodic", djp)):
            # every instance shows in the host's process list, containers' too
            assert sum(1 for a in shown if a.split(" ")[0].endswith(f"/{program}")) == \
                sum(counts.values()), shown
        record = run_check(host, host_lab, Path(tempfile.mkdtemp(dir=work)))
    finally:
        for pid in pids:
            host.run(["kill", pid])
        for name in started:
            remove_container(host, name)
    assert record["outcome"] == outcome, record
    assert words in record["message"], record
    assert record["found"].startswith(f"delayed-job-periodic: {NAME}"), record
