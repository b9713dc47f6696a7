"""Load-balancer backends per role, as the guide's network matrix allows them (issue 12).

One whole small site (a slot of its own) stays up; per variant only the load balancer (nginx) is
restarted, toward the app hosts (app1, app2) and the realtime host (rt1) on its port and in its
protocol:

====================  =====================  ====================
variant               app                    realtime
====================  =====================  ====================
app80+rt443-plain     80, plain HTTP         443, plain HTTP
all443-tls            443, TLS               443, TLS
app443-tls+rt-plain   443, TLS               443, plain HTTP
====================  =====================  ====================

Each variant runs with nothing said in the site file (rs-preflight finds out: the header probe
listens on every port the matrix names for the role, the health checks ask each backend what it
speaks) and with ``load_balancer.backends`` saying it, before installation (our own header probe
on the backends) and after it (the lab's echo backends standing in for R-Service on the same
ports): RS-LB-01/02/03/05/06 pass before, RS-LB-04 passes after, and each record's ``found``
names the backend port and protocol seen. RS-LB-04 fails when one backend's ``/teapot`` lies.

The product runs as a user runs it (``-k RS-LB``, ``--phase``), ``results.json`` is read.
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

ECHOED = ("RS-LB-01", "RS-LB-02", "RS-LB-03", "RS-LB-05", "RS-LB-06")
VARIANTS: dict[str, dict[str, tuple[int, bool]]] = {
    "app80+rt443-plain": {"app": (80, False), "realtime": (443, False)},
    "all443-tls": {"app": (443, True), "realtime": (443, True)},
    "app443-tls+rt-plain": {"app": (443, True), "realtime": (443, False)},
}


def proto(tls: bool) -> str:
    return "TLS" if tls else "plain HTTP"


def seen(variant: dict[str, tuple[int, bool]], *names: str) -> list[str]:
    """What ``found`` says for these backends: "app1:80 plain HTTP"."""
    role = {"app1": "app", "app2": "app", "rt1": "realtime"}
    return [f"{n}:{variant[role[n]][0]} {proto(variant[role[n]][1])}" for n in names]


@pytest.fixture(scope="module")
def lb_site(lab_lease: Lease) -> Iterator[LabSite]:
    from rs_lab.workdir import remove, service_root

    root = service_root("lb-backends")
    try:
        with site_in_slot(Scenario.small(), root / "site", lab_lease) as site:
            yield site
    finally:
        remove(root)


def run_lb(site: LabSite, phase: str) -> dict[str, dict[str, Any]]:
    site.write_site()
    folder = Path(tempfile.mkdtemp(prefix="rs-lb-backends-", dir=site.workdir))
    run = run_preflight(site.site_file, "--phase", phase, "-k", "RS-LB", cwd=folder)
    return {r["requirement"]: r for r in run.doc["results"]}


def serve(site: LabSite, variant: dict[str, tuple[int, bool]], declare: str) -> None:
    if site.scenario.lb_backends != variant:
        site.scenario.lb_backends = dict(variant)
        site.restart_lb()
    site.scenario.lb_declare = declare


@pytest.mark.parametrize("declare", ["none", "backends"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_backends_per_role_before_and_after_installation(lb_site: LabSite, name: str,
                                                         declare: str) -> None:
    variant = VARIANTS[name]
    serve(lb_site, variant, declare)
    pre = run_lb(lb_site, "pre")
    for rid in ECHOED:
        assert pre[rid]["outcome"] == "passed", (rid, pre[rid])
    assert pre["RS-LB-04"]["outcome"] == "skipped"
    for rid in ("RS-LB-01", "RS-LB-02", "RS-LB-03", "RS-LB-06"):
        for where in seen(variant, "app1", "app2", "rt1"):
            assert where in pre[rid]["found"], (rid, pre[rid]["found"])
    assert seen(variant, "rt1")[0] in pre["RS-LB-05"]["found"], pre["RS-LB-05"]
    with lb_site.echo_backends():
        post = run_lb(lb_site, "post")
    assert post["RS-LB-04"]["outcome"] == "passed", post["RS-LB-04"]
    for where in seen(variant, "app1", "app2", "rt1"):
        assert where in post["RS-LB-04"]["found"], post["RS-LB-04"]["found"]
    for rid in ECHOED:  # after installation, the echo backends answer on the same ports
        assert post[rid]["outcome"] == "passed", (rid, post[rid])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_lying_teapot_on_one_backend_fails_the_health_check(lb_site: LabSite, name: str
                                                              ) -> None:
    variant = VARIANTS[name]
    serve(lb_site, variant, "none")
    lb_site.scenario.echo_teapot = {"app2": "I am a kettle"}
    try:
        with lb_site.echo_backends():
            post = run_lb(lb_site, "post")
    finally:
        lb_site.scenario.echo_teapot = {}
    record = post["RS-LB-04"]
    assert record["outcome"] == "failed", record
    assert "another body" in record["message"], record
    assert f"{seen(variant, 'app2')[0]} /teapot" in record["message"], record
    assert f"{seen(variant, 'app1')[0]} /teapot" not in record["message"], record


# -- RS-LB-05 through HAProxy: 50 handshakes in a row ---------------------------------------------

@pytest.fixture(scope="module")
def haproxy_site(lab_lease: Lease) -> Iterator[LabSite]:
    """The small site behind HAProxy (in a slot of its own)."""
    from rs_lab.workdir import remove, service_root

    root = service_root("lb-ws-loop")
    try:
        with site_in_slot(Scenario.small().with_overlay("lb-haproxy"), root / "site",
                          lab_lease) as site:
            yield site
    finally:
        remove(root)


def test_50_websocket_handshakes_through_haproxy_all_switch(haproxy_site: LabSite) -> None:
    """The RS-LB-05 timeouts ("timed out while waiting for handshake response", 60 s though
    the client's timeout was 5 s, HAProxy logging ``408 <BADREQ>``: the request never arrived)
    came from the client: websockets' threaded sync client read the TLS socket in one thread
    while another wrote the request. The probe now does the handshake in one thread
    (``probes.http.websocket``); before, about 3 in 50 hung on either LB address."""
    from rs_preflight.gather.access import Connections
    from rs_preflight.gather.header_probe import HeaderProbe, token_query
    from rs_preflight.gather.probes import ProbeError, http
    from rs_preflight.spec.site import load_site

    site = load_site(haproxy_site.site_file)
    connections = Connections(site)
    probe = HeaderProbe(lifetime=240)  # our listener on app1, app2, rt1, as in phase pre
    try:
        assert probe.ensure(site, connections.get, lambda _: None) == []
        name = f"realtime.{haproxy_site.domain}"
        outcomes: dict[str, list[str]] = {}
        for address in reversed(haproxy_site.lb_addresses):  # IPv6 first, as reported
            for _ in range(50):
                try:
                    upgrade = http.websocket(address, name, timeout=5,
                                             path=f"/faye?{token_query(probe.token)}")
                    got = upgrade.detail
                except ProbeError as exc:
                    got = str(exc)
                outcomes.setdefault(address, []).append(got)
    finally:
        probe.stop()
        connections.close()
    for address, answers in outcomes.items():
        bad = [g for g in answers if not g.startswith("switched protocols (101) at rt1:443 TLS")]
        assert bad == [], (address, bad)
