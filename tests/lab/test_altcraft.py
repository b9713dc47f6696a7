"""The Altcraft guide's checks (seeds/003) on a real namespace host, both ways: AKD processes
found by argv[0] as the guide's psutil script finds them, their per-process details (memory,
CPU, open files, TCP connections by state), and the panel's ``/status`` page served by nginx
over TLS, read with the name in SNI and ``Host`` from the host's address.

Host ak1 runs stand-ins for AKD's processes — ``sleep`` and ``python3`` started with argv[0]
``AK:<name>`` (what the platform's processes call themselves), one of them holding three
ESTABLISHED connections to another's listener — and nginx answering ``/status`` with ``OK``,
then with a failing service's name.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.pki import Pki
from rs_preflight.gather.facts import SECTIONS
from rs_preflight.gather.facts.processes import parse_process_details, process_details_command
from rs_preflight.gather.probes import http
from rs_preflight.judge import processes as judge
from rs_preflight.judge.status import status_page

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("nginx") is None:  # pragma: no cover
    pytest.skip("needs root and nginx", allow_module_level=True)

NAME = "ak1"
PANEL = "panel.ak.lab"
LISTENER = ("import socket, time\ns = socket.socket(); s.bind(('127.0.0.1', 7001)); "
            "s.listen(16)\nkeep = [s.accept() for _ in range(3)]\ntime.sleep(3600)\n")
CLIENT = ("import socket, time\nkeep = [socket.create_connection(('127.0.0.1', 7001)) "
          "for _ in range(3)]\ntime.sleep(3600)\n")
NGINX = """\
pid /run/rs-nginx.pid;
error_log /tmp/rs-nginx-error.log;
events {}
http {
  access_log off;
  server {
    listen 443 ssl; server_name %(name)s;
    ssl_certificate /etc/rs-nginx/chain.pem; ssl_certificate_key /etc/rs-nginx/key.pem;
    location = /status { default_type text/plain; alias /srv/status.txt; }
  }
}
"""


def details(host: LabHost) -> dict[str, Any]:
    done = host.run(process_details_command(["AK:"]), timeout=60)
    return parse_process_details(done.returncode, done.stdout)


def processes(host: LabHost) -> list[tuple[str, str]]:
    section = SECTIONS["processes"]
    done = host.run(section.command(None), timeout=30)  # type: ignore[arg-type]
    parsed: list[tuple[str, str]] = section.parse(done.returncode, done.stdout)
    return parsed


@pytest.fixture(scope="module")
def ak_host(host_lab: HostLab, lab_lease: Lease,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHost]:
    work = tmp_path_factory.mktemp("altcraft")
    leaf = Pki.create(work / "pki").issue("panel", [PANEL])
    host = host_lab.add(HostSpec(NAME, lab_lease.take(), os_release("debian", "12"), extra_files={
        "/etc/rs-nginx/nginx.conf": NGINX % {"name": PANEL},
        "/etc/rs-nginx/chain.pem": leaf.chain_path.read_text(),
        "/etc/rs-nginx/key.pem": leaf.key_path.read_text(),
        "/srv/status.txt": "OK\n", "/srv/listener.py": LISTENER, "/srv/client.py": CLIENT}))
    for name in ("akmtad", "api", "proctrigger"):
        host.run(f"nohup bash -c 'exec -a AK:{name} sleep infinity' >/dev/null 2>&1 &",
                 check=True)
    host.run("nohup bash -c 'exec -a AK:webcontrol python3 /srv/listener.py' "
             ">/dev/null 2>&1 &", check=True)
    time.sleep(0.5)
    host.run("nohup bash -c 'exec -a AK:procworkflow python3 /srv/client.py' "
             ">/dev/null 2>&1 &", check=True)
    host.run("nginx -c /etc/rs-nginx/nginx.conf >/dev/null 2>&1", check=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the client holds its three connections
        seen = details(host)
        if any(p.get("tcp", {}).get("ESTABLISHED") == 3 for k, p in seen.items()
               if k != "host"):
            break
        time.sleep(0.3)
    yield host


def test_every_listed_process_runs_and_a_missing_one_is_named(ak_host: LabHost) -> None:
    ps = processes(ak_host)
    ok = judge.processes_running(ps, ["AK:akmtad", "AK:api", "AK:proctrigger",
                                      "AK:webcontrol", "AK:procworkflow"], "argv0")
    assert ok.outcome == "passed", ok.message
    got = judge.processes_running(ps, ["AK:api", ["AK:procsmssev", "AK:proccsmsev"],
                                       "AK:trkread"], "argv0")
    assert got.outcome == "failed"
    assert got.message == ("2 of 3 process(es) not running: AK:procsmssev (or "
                           "AK:proccsmsev), AK:trkread")


def test_process_details_as_the_guides_psutil_script_reads_them(ak_host: LabHost) -> None:
    seen = details(ak_host)
    by_name = {p["argv0"]: p for pid, p in seen.items() if pid != "host"}
    assert set(by_name) == {"AK:akmtad", "AK:api", "AK:proctrigger", "AK:webcontrol",
                            "AK:procworkflow"}
    client, server = by_name["AK:procworkflow"], by_name["AK:webcontrol"]
    assert client["tcp"] == {"ESTABLISHED": 3}
    assert server["tcp"] == {"LISTEN": 1, "ESTABLISHED": 3}
    assert client["nofile_soft"] and client["fds"] >= 3 and client["rss_kb"] > 0
    assert judge.process_tcp_states(seen, {"CLOSE_WAIT": 2500, "ESTABLISHED": 5000}
                                    ).outcome == "passed"
    tight = judge.process_tcp_states(seen, {"ESTABLISHED": 2})
    assert tight.outcome == "failed"
    assert tight.found == "AK:procworkflow ESTABLISHED 3, AK:webcontrol ESTABLISHED 3"
    assert judge.process_memory(seen, max_rss_percent=20, max_swap_percent=5).outcome == \
        "passed"
    assert judge.process_cpu(seen, "total", 50).outcome == "passed"
    assert judge.process_open_files(seen, 0.8).outcome == "passed"
    assert judge.process_open_files(seen, 0.0001).outcome == "failed"


def test_the_status_page_says_ok_then_names_the_failing_service(ak_host: LabHost) -> None:
    url = f"https://{PANEL}/status"
    answer = http.get(ak_host.ipv4, url, timeout=5)
    assert status_page(answer.status, answer.text, ["OK", "ОК"], url).outcome == "passed"
    ak_host.run("printf 'procworkflow\\n' > /srv/status.txt", check=True)
    try:
        answer = http.get(ak_host.ipv4, url, timeout=5)
        got = status_page(answer.status, answer.text, ["OK", "ОК"], url)
        assert (got.outcome, got.message) == (
            "failed", f"{url} names a failing service: procworkflow")
    finally:
        ak_host.run("printf 'OK\\n' > /srv/status.txt", check=True)


def test_nothing_listening_is_not_a_page(ak_host: LabHost, tmp_path: Path) -> None:
    from rs_preflight.gather.probes import ProbeError
    with pytest.raises(ProbeError):
        http.get(ak_host.ipv4, f"https://{PANEL}:8443/status", timeout=3)


def test_the_bundle_collects_what_the_guides_support_section_asks(ak_host: LabHost) -> None:
    """4.4: the versions of the executables (akd --processes, then each --version), the log
    files, and per AK:* process its limits, descriptors and TCP states — the bundle's items
    of the catalogue's ``bundle:`` run on the host as the bundle runs them."""
    from rs_preflight.bundle.product import diagnostics, product_items
    from rs_preflight.spec.catalogue import load_catalogue
    catalogue = Path(__file__).resolve().parents[2] / "examples" / "catalogues" / "altcraft.yaml"
    ak_host.run("mkdir -p /opt/akd/ak/bin /opt/akd/logs && "
                "printf '#!/bin/sh\\nprintf \"api\\\\nwebcontrol\\\\nx;reboot\\\\n\"\\n' "
                "> /opt/akd/akd && "
                "printf '#!/bin/sh\\necho \"$0 1.2.3\"\\n' > /opt/akd/ak/bin/api && "
                "cp /opt/akd/ak/bin/api /opt/akd/ak/bin/webcontrol && "
                "chmod 755 /opt/akd/akd /opt/akd/ak/bin/* && "
                "printf '[api] LOG 2018/07/02 14:00:00 main.go:1: started\\n' "
                "> /opt/akd/logs/api.log", check=True)
    diag = diagnostics(load_catalogue(catalogue).bundle)
    assert diag is not None
    got = {i.path: ak_host.run(i.command, timeout=30).stdout for i in product_items(diag, 10)}
    assert got["product/versions.txt"].splitlines() == [
        "api: /opt/akd/ak/bin/api 1.2.3", "webcontrol: /opt/akd/ak/bin/webcontrol 1.2.3"]
    assert got["product/logs-1.txt"] == ("==> /opt/akd/logs/api.log <==\n"
                                         "[api] LOG 2018/07/02 14:00:00 main.go:1: started\n")
    procs = got["processes/product.txt"]
    assert procs.count("=== pid ") == 5 and "Max open files" in procs
    assert "tcp states:" in procs and "ESTAB" in procs
