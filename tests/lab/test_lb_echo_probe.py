"""The pre-phase header probe end to end: the product's own header-echo listener on the backends.

Phase pre on the small site: nothing listens on the backends' port 443 (RS-PORT-02 wants it
free), so RS-LB-01/02/03/05/06 can only pass through rs-preflight's listener, started over SSH
on app1, app2 and rt1 (TLS toward the backends, as the lab's load balancers speak). A load
balancer that rewrites Host and drops X-Forwarded-Proto (nginx and HAProxy, own slot) fails those
two checks; a taken backend port is an error that says so. After every run no listener process,
no temporary folder and no socket of the probe is left on any backend host.

The product runs as a user runs it: ``python -m rs_preflight.cli --site site.yaml -k RS-LB`` in
a fresh folder; ``rs-preflight-report/results.json`` is read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.indices import Lease
from rs_lab.preflight import run_preflight
from rs_lab.scenario import LabSite, Scenario, site_in_slot

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("nginx") is None:  # pragma: no cover
    pytest.skip("needs root and the lab's services", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("app1", "app2", "rt1")
ECHOED = ("RS-LB-01", "RS-LB-02", "RS-LB-03", "RS-LB-05", "RS-LB-06")
TAG = "rs-preflight-header-probe"


def run_lb_checks(site: LabSite, phase: str = "pre") -> dict[str, dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="rs-lb-probe-run-", dir=site.workdir))
    run = run_preflight(site.site_file, "--phase", phase, "-k", "RS-LB", cwd=folder)
    assert run.doc["phase"] == phase
    return {r["requirement"]: r for r in run.doc["results"]}


def leftovers(site: LabSite, name: str) -> list[str]:
    """What of the probe is still on ``name``: processes, temp folders, sockets on 443."""
    host = site.host(name)
    procs = [ln for ln in host.run(["ps", "-eo", "pid,args"]).stdout.splitlines()
             if TAG in ln]
    tmp = [f for f in host.run(["ls", "-A", "/tmp"]).stdout.split()
           if f.startswith("rs-preflight-probe-")]
    sockets = host.ns.run(["ss", "-Htln", "sport", "= :443"]).stdout.strip().splitlines()
    return procs + tmp + sockets


def assert_nothing_left(site: LabSite, hosts: tuple[str, ...] = BACKENDS) -> None:
    for name in hosts:
        assert leftovers(site, name) == [], name


@pytest.fixture(scope="module", params=["nginx", "haproxy"])
def broken_lb(request: pytest.FixtureRequest, lab_lease: Lease) -> Iterator[LabSite]:
    """A whole small site (a slot of its own) whose load balancer rewrites Host and drops
    XFP."""
    from rs_lab.workdir import remove, service_root

    scenario = Scenario.small().with_overlay("lb-rewrite-host").with_overlay("lb-drop-xfp")
    if request.param == "haproxy":
        scenario = scenario.with_overlay("lb-haproxy")
    root = service_root("lb-probe")
    try:
        with site_in_slot(scenario, root / request.param, lab_lease) as site:
            yield site
    finally:
        remove(root)


def test_pre_phase_passes_through_the_products_own_listener(small_site: LabSite) -> None:
    assert_nothing_left(small_site)  # nothing answers behind the LB before the run
    results = run_lb_checks(small_site)
    for rid in ECHOED:
        assert results[rid]["outcome"] == "passed", (rid, results[rid]["message"])
    assert results["RS-LB-04"]["outcome"] == "skipped"      # /teapot exists after installation
    assert "switched" in results["RS-LB-05"]["message"]
    assert_nothing_left(small_site)


def test_post_phase_starts_nothing_and_skips_the_header_checks(small_site: LabSite) -> None:
    """After installation R-Service answers behind the LB and echoes nothing; post is
    read-only. (The small site has no R-Service: the LB answers 502, the honest stand-in for
    "not an echo".)"""
    results = run_lb_checks(small_site, "post")
    for rid in ("RS-LB-01", "RS-LB-02", "RS-LB-03", "RS-LB-06"):
        assert results[rid]["outcome"] == "skipped", results[rid]
        assert "the header probe runs before installation" in results[rid]["message"]
    assert_nothing_left(small_site)


def test_a_broken_load_balancer_fails_the_matching_checks(broken_lb: LabSite) -> None:
    results = run_lb_checks(broken_lb)
    assert results["RS-LB-01"]["outcome"] == "failed", results["RS-LB-01"]
    assert "Host: rs_" in results["RS-LB-01"]["message"]
    assert results["RS-LB-03"]["outcome"] == "failed", results["RS-LB-03"]
    assert "no X-Forwarded-Proto" in results["RS-LB-03"]["message"]
    for rid in ("RS-LB-02", "RS-LB-05", "RS-LB-06"):
        assert results[rid]["outcome"] == "passed", (rid, results[rid]["message"])
    assert_nothing_left(broken_lb)


def test_a_taken_backend_port_is_an_error_that_says_so(broken_lb: LabSite) -> None:
    app2 = broken_lb.host("app2")
    holder = app2.run("nohup python3 -m http.server 443 --bind 0.0.0.0 >/dev/null 2>&1 & "
                      "echo $!; i=0; until ss -Htln 'sport = :443' | grep -q . || "
                      "[ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done", check=True
                      ).stdout.strip()
    try:
        results = run_lb_checks(broken_lb)
    finally:
        app2.run(["kill", holder])
    for rid in ECHOED:
        assert results[rid]["outcome"] == "error", results[rid]
        assert ("backend port 443 on app2 is taken: cannot start the header probe"
                in results[rid]["message"]), results[rid]
    assert_nothing_left(broken_lb, ("app1", "rt1"))          # ours were stopped all the same
    assert TAG not in app2.run(["ps", "-eo", "args"]).stdout
