"""The Altcraft catalogue (seeds/003) run as a user runs it against a lab replica, both ways.

Host ak2 (roles platform and rabbitmq) runs, as the guide's table lays them out:
- RabbitMQ (Debian's 3.10, real) on 5672 with its management plugin on 15672 (the queues of
  6.2), a user ``rabbit`` whose password the site gives by reference;
- the four SSDB ports 4410–4440 on 127.0.0.1 answered by redis-server — a **stand-in**: SSDB
  is not packaged here, and SSDB speaks Redis's protocol on its port, which is what
  ``service_answers`` asks (PING); the probe reaches them through the host's SSH connection;
- every AKD process of 6.3 as a process whose argv[0] is ``AK:<name>`` (``sleep``: the name is
  what the guide's script and the check match);
- the panel's ``/status`` over TLS (nginx);
- a ``systemctl`` **stand-in** in /usr/local/bin answering ``is-active`` from a file (namespace
  hosts run no systemd).
- MongoDB's control and accounts databases on 127.0.0.1:27017 and 27018 answered by NX-27017
  (``rs_lab.mongodb``: MongoDB's wire protocol over SQLite, a real server but not MongoDB —
  MongoDB cannot be installed here).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.mongodb import MONGO_ROOT
from rs_lab.pki import Pki
from rs_lab.preflight import Run, run_preflight

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("redis-server") is None or shutil.which("nginx") is None \
        or not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():  # pragma: no cover
    pytest.skip("needs root, redis-server, rabbitmq-server and nginx (scripts/setup)",
                allow_module_level=True)

NAME = "ak2"
PANEL = "panel.ak.lab"
MQ_PASSWORD = "lab-rabbit-pw"
CATALOGUE = Path(__file__).resolve().parents[2] / "examples" / "catalogues" / "altcraft.yaml"
RAW = yaml.safe_load(CATALOGUE.read_text())["requirements"]
AK = [e if isinstance(e, str) else e[0] for rid in ("AC-PROC-01", "AC-PROC-02", "AC-PROC-03")
      for e in RAW[rid]["params"]["processes"]]
UNITS = [u for rid in ("AC-SVC-01", "AC-SVC-02") for u in RAW[rid]["params"]["units"]]
RABBIT_ENV = ("HOME=/var/lib/rs-rabbit RABBITMQ_NODENAME=rabbit@localhost "
              "RABBITMQ_MNESIA_BASE=/var/lib/rs-rabbit/mnesia "
              "RABBITMQ_LOG_BASE=/var/lib/rs-rabbit/log "
              "RABBITMQ_ENABLED_PLUGINS_FILE=/var/lib/rs-rabbit/plugins "
              "RABBITMQ_CONFIG_FILE=/var/lib/rs-rabbit/none")
SYSTEMCTL = """#!/bin/sh
# rs-lab stand-in: the state of a unit from /var/lib/rs-units/<unit> (no systemd here)
[ "$1" = is-active ] || exit 1
state=$(cat "/var/lib/rs-units/$2" 2>/dev/null || echo inactive)
echo "$state"; [ "$state" = active ]
"""
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


PIDS: dict[str, str] = {}  # what the broken variant stops, by the PID it was started with


def bg(host: LabHost, command: str, key: str = "") -> None:
    pid = host.run(f"nohup {command} >/dev/null 2>&1 & echo $!", check=True).stdout.strip()
    if key:
        PIDS[key] = pid


def wait(what: str, ok: Any, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not ok():
        assert time.monotonic() < deadline, f"{NAME}: {what} did not come up"
        time.sleep(0.5)


def api(host: LabHost, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(method, f"http://{host.ipv4}:15672/api/{path}",
                            auth=("rabbit", MQ_PASSWORD), json=body, timeout=10)


@pytest.fixture(scope="module")
def ak_host(host_lab: HostLab, lab_lease: Lease,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHost]:
    work = tmp_path_factory.mktemp("altcraft-catalogue")
    leaf = Pki.create(work / "pki").issue("panel", [PANEL])
    host = host_lab.add(HostSpec(NAME, lab_lease.take(), os_release("debian", "12"), extra_files={
        "/etc/rs-nginx/nginx.conf": NGINX % {"name": PANEL},
        "/etc/rs-nginx/chain.pem": leaf.chain_path.read_text(),
        "/etc/rs-nginx/key.pem": leaf.key_path.read_text(),
        "/srv/status.txt": "OK\n", "/usr/local/bin/systemctl": SYSTEMCTL,
        "/var/lib/rs-rabbit/plugins": "[rabbitmq_management].\n"}))
    host.run("chmod 755 /usr/local/bin/systemctl && mkdir -p /var/lib/rs-units && "
             + " && ".join(f"echo active > /var/lib/rs-units/{u}" for u in UNITS), check=True)
    for port in (27017, 27018):  # MongoDB control and accounts (NX-27017), loopback only
        host.run(f"mkdir -p /var/lib/rs-mongo-{port}", check=True)
        bg(host, f"{MONGO_ROOT}/bin/nx-27017 --host 127.0.0.1 -p {port} "
                 f"--data-dir /var/lib/rs-mongo-{port} --db /var/lib/rs-mongo-{port}.db "
                 f"--log-file /tmp/nx-{port}.log --pid-file /tmp/nx-{port}.pid")
    for port in (4410, 4420, 4430, 4440):  # the SSDB stand-ins, on the loopback only
        bg(host, f"redis-server --port {port} --bind 127.0.0.1 --save ''", f"ssdb-{port}")
    bg(host, f"env {RABBIT_ENV} /usr/lib/rabbitmq/bin/rabbitmq-server")
    for name in AK:
        bg(host, f"bash -c 'exec -a {name} sleep infinity'", name)
    host.run("nginx -c /etc/rs-nginx/nginx.conf >/dev/null 2>&1", check=True)
    for port in (27017, 27018):
        wait(f"NX-27017 on {port}", lambda p=port: host.run(
            ["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{p}"]).returncode == 0)
    ctl = f"env {RABBIT_ENV} /usr/lib/rabbitmq/bin/rabbitmqctl"
    wait("RabbitMQ", lambda: host.run(f"{ctl} await_startup", timeout=120).returncode == 0)
    host.run(f"{ctl} add_user rabbit {MQ_PASSWORD} && {ctl} set_user_tags rabbit "
             f"administrator && {ctl} set_permissions -p / rabbit '.*' '.*' '.*'",
             check=True, timeout=120)

    def management_up() -> bool:
        try:
            return api(host, "GET", "overview").status_code == 200
        except requests.RequestException:
            return False
    wait("the management API", management_up)
    for queue in ("oxy_triggers", "oxy_triggers_prior", "trk_read"):
        assert api(host, "PUT", f"queues/%2F/{queue}", {"durable": False}).status_code in \
            (201, 204)
    yield host


def run(host: LabHost, host_lab: HostLab, folder: Path) -> Run:
    (folder / "rabbitmq.pass").write_text(MQ_PASSWORD + "\n")
    lines = ["name: altcraft-lab", "profile: standard", "phase: post", "ssh:", "  user: root",
             f"  identity_file: {host_lab.identity_file}",
             f"  known_hosts: {host_lab.known_hosts}", "  connect_timeout: 3",
             "  command_timeout: 30", "hosts:",
             f"  {NAME}: {{address: {host.ipv4}, roles: [platform, rabbitmq], "
             f"names: [{PANEL}]}}",
             "settings:", "  RABBITMQ_USER: rabbit", "  RABBITMQ_PASS_file: rabbitmq.pass"]
    site = folder / "site.yaml"
    site.write_text("\n".join(lines) + "\n")
    return run_preflight(site, "--rs-catalogue", str(CATALOGUE), cwd=folder)


def outcomes(got: Run) -> dict[str, dict[str, Any]]:
    return {rid: r for (rid, _), r in got.records.items()}


def test_the_replica_passes_every_requirement(
        ak_host: LabHost, host_lab: HostLab, tmp_path: Path) -> None:
    got = outcomes(run(ak_host, host_lab, tmp_path))
    assert set(got) == set(RAW)
    not_passed = {rid: r["message"] for rid, r in got.items() if r["outcome"] != "passed"}
    assert not_passed == {}
    assert got["AC-DB-01"]["message"].startswith("127.0.0.1:27017 on ak2: MongoDB answered")
    assert got["AC-MQ-01"]["found"].endswith("version 3.10.8")
    assert "on ak2" in got["AC-DB-03"]["message"]  # asked on the host's loopback
    assert MQ_PASSWORD not in json.dumps(got)


def test_each_broken_variant_fails_for_its_reason(
        ak_host: LabHost, host_lab: HostLab, tmp_path: Path) -> None:
    host = ak_host
    stop = " ".join(PIDS[k] for k in ("AK:procpixel", "AK:procnotify", "AK:trklisten",
                                       "ssdb-4430"))
    host.run(f"kill {stop}; "
             "echo failed > /var/lib/rs-units/ssdb-notify.service; "
             "printf 'procworkflow\\n' > /srv/status.txt", timeout=30)
    for _ in range(1000):  # oxy_triggers_prior's bound is 1000 messages
        api(host, "POST", "exchanges/%2F/amq.default/publish",
            {"properties": {}, "routing_key": "oxy_triggers_prior", "payload": "x",
             "payload_encoding": "string"})
    time.sleep(6)  # the management API's queue figures are refreshed every 5 s
    got = outcomes(run(host, host_lab, tmp_path))
    failed = {rid for rid, r in got.items() if r["outcome"] == "failed"}
    assert failed == {"AC-DB-05", "AC-SVC-01", "AC-STATUS-01",
                      "AC-PROC-01", "AC-PROC-02", "AC-PROC-03", "AC-QUEUE-01"}, \
        {rid: r["message"] for rid, r in got.items() if r["outcome"] != "passed"}
    assert got["AC-DB-05"]["message"].startswith("SSDB does not answer at 127.0.0.1:4430")
    assert got["AC-SVC-01"]["message"] == "not active: ssdb-notify.service (failed)"
    assert got["AC-STATUS-01"]["message"].endswith("names a failing service: procworkflow")
    assert got["AC-PROC-01"]["message"].endswith("not running: AK:procpixel")
    assert got["AC-PROC-01"]["severity"] == "blocker"
    assert got["AC-PROC-02"]["message"].endswith("not running: AK:procnotify")
    assert got["AC-PROC-02"]["severity"] == "warning"
    assert got["AC-PROC-03"]["message"].endswith("not running: AK:trklisten")
    assert "/oxy_triggers_prior: 1000 >= 1000" in got["AC-QUEUE-01"]["message"]
