"""Every host requirement (issue 4) against real namespace hosts: a healthy site where each
passes, and a broken site where each fails on the host broken for it, for the named reason.

The two sites share a "db" host (db78) that runs plain TCP listeners for the flows of the
network matrix (5432, 587, 993, 9200: PORT-01 tests reachability, not the protocols — those
have their own checks) and exports the sshfs share.

Limits: this sandbox cannot raise a hard nofile limit above 20000 (LAB.md). The login view is
shown through the hosts' LD_PRELOAD shim (8192/100000 on healthy hosts); the containers' view on
healthy hosts comes from daemon.json ``default-ulimits`` (what Docker gives containers), and the
broken host's dockerd really runs at 1024 (``prlimit`` before exec: lowering works).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_lab.netns import addr4
from rs_lab.ntp import NtpServer, wait_synced
from rs_lab.preflight import run_preflight
from rs_lab.share import SshfsShare

GIB = 1024 * 1024
SHARE = "/mnt/rs-share"
COMPOSE = {"/usr/libexec/docker/cli-plugins/docker-compose": "/opt/rs-lab/compose/docker-compose"}
GOOD_SYSCTLS = {"fs.file-max": "2097152", "vm.max_map_count": "262144"}
PERSISTED = {"/etc/sysctl.d/99-rservice.conf": "fs.file-max = 2097152\n"
                                              "vm.max_map_count = 262144\n"}
DAEMON_GOOD = json.dumps({"log-driver": "json-file",
                          "log-opts": {"max-size": "100m", "max-file": "10"},
                          "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 8192,
                                                         "Hard": 100000}}})
DB = "db78"
GOOD_ROLES = {"okapp70": "app", "okjob71": "job, search", "okrt72": "realtime"}
BAD_ROLES = {"osold73": "app", "dockerbad74": "app", "nodocker75": "job", "rtbad76": "realtime",
             "searchbad77": "search"}
AREAS = ("RS-OS or RS-DOCKER or RS-LIMIT or RS-SYSCTL or RS-TIME or RS-NET or RS-SIZE or "
         "RS-STORAGE or RS-PORT or RS-SINGLETON")


def healthy(name: str, index: int, ntp: str | None, *, cpus: int, mem_gib: int,
            disks: dict[str, str], os: tuple[str, str] = ("ubuntu", "24.04"), **kw: object
            ) -> HostSpec:
    files = {**PERSISTED, "/etc/docker/daemon.json": DAEMON_GOOD}
    files.update(cast("dict[str, str]", kw.pop("extra_files", {})))
    return HostSpec(name, index, os_release(*os), extra_files=files,
                    sysctls={**GOOD_SYSCTLS, **kw.pop("sysctls", {})},  # type: ignore[dict-item]
                    nofile=kw.pop("nofile", (8192, 100000)),  # type: ignore[arg-type]
                    cpus=cpus, mem_kb=mem_gib * GIB, disks=disks, ntp_server=ntp,
                    services=kw.pop("services", ["docker"]),  # type: ignore[arg-type]
                    symlinks=kw.pop("symlinks", COMPOSE),  # type: ignore[arg-type]
                    **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def other_ntp(lab_lease: Lease, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[NtpServer]:
    server = NtpServer(lab_lease.take("ntp2"), tmp_path_factory.mktemp("ntp2"), short="ntp2")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lab(host_lab: HostLab, lab_lease: Lease, ntp_server: NtpServer, other_ntp: NtpServer
        ) -> Iterator[dict[str, LabHost]]:
    ntp = ntp_server.ipv4
    nowhere = addr4(lab_lease.take("nowhere"))  # no host: an NTP server that never answers
    i = {name: lab_lease.take(name) for name in (*GOOD_ROLES, *BAD_ROLES, DB)}
    specs = [
        # the healthy site
        healthy("okapp70", i["okapp70"], ntp, cpus=2, mem_gib=4, disks={"/": "30G"}),
        healthy("okjob71", i["okjob71"], ntp, cpus=4, mem_gib=16,
                disks={"/": "30G", "/var/lib/opensearch": "50G"},
                processes=["clacks", "delayed-job-periodic"]),
        healthy("okrt72", i["okrt72"], ntp, cpus=2, mem_gib=4, disks={"/": "30G"}),
        # the broken site: each host broken for some requirements, said in the name
        healthy("osold73", i["osold73"], ntp, cpus=2, mem_gib=4, disks={"/": "30G"},
                os=("ubuntu", "22.04"),
                processes=["Xorg"], kernel_files={"/sys/class/net/eth0/speed": "100"}),
        HostSpec("dockerbad74", i["dockerbad74"], os_release("rhel", "9.4"),
                 extra_files={**PERSISTED, "/etc/docker/daemon.json":
                              '{"log-driver": "json-file", "log-opts": {"max-size": "100m"}}\n'},
                 sysctls=GOOD_SYSCTLS, nofile=(8192, 100000), cpus=2, mem_kb=4 * GIB,
                 disks={"/": "30G"}, ntp_server=ntp, services=["docker"],
                 dockerd_nofile=(1024, 1024)),
        HostSpec("nodocker75", i["nodocker75"], os_release("astra", "1.8_x86-64"),
                 extra_files={**PERSISTED, "/etc/docker/daemon.json":
                              '{"log-driver": "json-file",\n "log-opts": {"max-size": "100m",'
                              ' "max-file": "10"},\n}\n'},
                 sysctls=GOOD_SYSCTLS, nofile=(8192, 100000), cpus=1, mem_kb=2 * GIB,
                 disks={"/": "30G"}, ntp_server=nowhere, processes=["clacks"]),
        healthy("rtbad76", i["rtbad76"], other_ntp.ipv4, cpus=2, mem_gib=4, disks={"/": "30G"},
                sysctls={"fs.file-max": "65536"}, extra_files={"/etc/sysctl.d/99-rservice.conf":
                                                               "vm.max_map_count = 262144\n"},
                nofile=(8192, 65536), clock_offset_s=3, processes=["clacks"]),
        healthy("searchbad77", i["searchbad77"], None, cpus=4, mem_gib=16, disks={"/": "30G"},
                sysctls={"vm.max_map_count": "65530"}),
        # the db host (both sites): listeners for the matrix, the share's server
        HostSpec(DB, i[DB], os_release("ubuntu", "24.04"), ntp_server=ntp,
                 extra_files=PERSISTED, sysctls=GOOD_SYSCTLS, nofile=(8192, 100000), cpus=4,
                 mem_kb=16 * GIB, disks={"/": "30G", "/var/lib/postgresql": "50G"},
                 nft_rules=[f"ip saddr {addr4(i['osold73'])} tcp dport 5432 drop"]),
    ]
    hosts = {h.name: h for h in host_lab.add_many(specs)}
    db_host = hosts[DB]
    listen(db_host, 5432, 587, 993, 9200)
    share = SshfsShare(db_host, "/srv/rs-share", host_lab.identity_file, host_lab.known_hosts)
    share.export()
    for name in ("okapp70", "okjob71", "osold73", "nodocker75"):
        share.mount(hosts[name], SHARE)
    hosts["dockerbad74"].run(f"mkdir -p {SHARE}", check=True)  # a local folder, not the share
    hosts["osold73"].run("nohup python3 -m http.server 443 --bind 0.0.0.0 >/dev/null 2>&1 &",
                         check=True)  # port 443 taken on an app host
    for name in ("okapp70", "okjob71", "okrt72", "osold73", "dockerbad74", "rtbad76"):
        wait_synced(hosts[name])
    yield hosts


def site(folder: Path, lab_: HostLab, hosts: dict[str, LabHost], roles: dict[str, str]
         ) -> Path:
    db = hosts[DB].ipv4
    lines = ["name: host-checks", "profile: small", "ssh:", "  user: root",
             f"  identity_file: {lab_.identity_file}", f"  known_hosts: {lab_.known_hosts}",
             "  connect_timeout: 3", "  command_timeout: 20", "hosts:"]
    lines += [f"  {name}: {{address: {hosts[name].ipv4}, roles: [{r}]}}"
              for name, r in roles.items()]
    lines += [f"  {DB}: {{address: {db}, roles: [db]}}", f"storage: {{path: {SHARE}}}",
              "time: {max_skew_ms: 500}", "settings:", f"  DB_WRITER_HOST: '{db}'",
              "  DB_WRITER_PORT: 5432", f"  ELASTICSEARCH_URLS: 'http://{db}:9200'",
              f"  RSERVICE_SMTP_HOST: '{db}'", "  RSERVICE_SMTP_PORT: 587",
              f"  CLACKS_ADDRESS: '{db}'", "  CLACKS_PORT: 993"]
    path = folder / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


Records = dict[tuple[str, str | None], dict[str, Any]]  # (requirement, host) → its JSON record


def run(folder: Path, site_file: Path, phase: str) -> Records:
    out = folder / phase
    out.mkdir(exist_ok=True)
    return run_preflight(site_file, "--phase", phase, "-k", AREAS, cwd=out).records



def listen(host: LabHost, *ports: int) -> None:
    """Plain TCP listeners standing in for R-Service's own services after installation."""
    for port in ports:
        host.run(f"nohup python3 -m http.server {port} --bind 0.0.0.0 >/dev/null 2>&1 &",
                 check=True)


@pytest.fixture(scope="module")
def good(lab: dict[str, LabHost], host_lab: HostLab, tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, Records]:
    folder = tmp_path_factory.mktemp("good")
    path = site(folder, host_lab, lab, GOOD_ROLES)
    results = {"pre": run(folder, path, "pre")}  # before installation: the ports are free
    listen(lab["okrt72"], 6379, 5672, 443)       # then "install": redis, rabbitmq, faye
    listen(lab["okjob71"], 11211)                # and memcached
    results["post"] = run(folder, path, "post")
    return results


@pytest.fixture(scope="module")
def bad(lab: dict[str, LabHost], host_lab: HostLab, tmp_path_factory: pytest.TempPathFactory
        ) -> dict[str, Records]:
    folder = tmp_path_factory.mktemp("bad")
    path = site(folder, host_lab, lab, BAD_ROLES)
    return {phase: run(folder, path, phase) for phase in ("pre", "post")}


HOST_IDS = ["RS-OS-01", "RS-OS-02", "RS-DOCKER-01", "RS-DOCKER-02", "RS-DOCKER-03",
            "RS-LIMIT-01", "RS-LIMIT-02", "RS-LIMIT-03", "RS-SYSCTL-01", "RS-SYSCTL-02",
            "RS-TIME-01", "RS-TIME-03", "RS-NET-01", "RS-SIZE-01", "RS-SIZE-02", "RS-SIZE-03",
            "RS-STORAGE-01", "RS-PORT-01"]


@pytest.mark.parametrize("requirement", HOST_IDS)
def test_healthy_site_passes(good: dict[str, Records], requirement: str) -> None:
    records = [r for (req, _), r in good["post"].items() if req == requirement]
    assert records, f"{requirement} did not run"
    for record in records:
        assert record["outcome"] == "passed", record


@pytest.mark.parametrize(("requirement", "phase"), [
    ("RS-TIME-02", "post"), ("RS-SINGLETON-01", "post"), ("RS-PORT-02", "pre"),
    ("RS-PORT-01", "pre")])
def test_healthy_site_passes_site_and_phase_checks(good: dict[str, Records], requirement: str,
                                                   phase: str) -> None:
    records = [r for (req, _), r in good[phase].items() if req == requirement]
    assert any(r["outcome"] == "passed" for r in records), records
    # a host no flow leaves in phase pre (realtime) is skipped, saying so
    assert all(r["outcome"] == "passed" or "no flow leaves" in r["message"]
               for r in records), records


BROKEN = [
    # (requirement, host, phase, words the message must contain)
    ("RS-OS-01", "osold73", "post", "Ubuntu 22.04"),
    ("RS-OS-02", "osold73", "post", "Xorg"),
    ("RS-DOCKER-01", "nodocker75", "post", "the Docker daemon does not answer"),
    ("RS-DOCKER-02", "dockerbad74", "post", "Compose v2 is missing"),
    ("RS-DOCKER-03", "nodocker75", "post", "does not parse: line 3"),
    ("RS-DOCKER-03", "dockerbad74", "post", "max-file is not set"),
    ("RS-LIMIT-01", "dockerbad74", "post", "/proc/<dockerd>/limits) is 1024"),
    ("RS-LIMIT-02", "dockerbad74", "post", "/proc/<dockerd>/limits) is 1024"),
    ("RS-LIMIT-03", "rtbad76", "post", "65536, below 100000"),
    ("RS-SYSCTL-01", "rtbad76", "post", "fs.file-max is 65536"),
    ("RS-SYSCTL-02", "searchbad77", "post", "vm.max_map_count is 65530"),
    ("RS-TIME-01", "nodocker75", "post", "not synchronised"),
    ("RS-TIME-01", "searchbad77", "post", "no NTP client runs"),
    ("RS-TIME-02", "rtbad76", "post", "rtbad76 follows {other_ntp}, not the site's"),
    ("RS-TIME-03", "rtbad76", "post", "ahead of the runner"),
    ("RS-NET-01", "osold73", "post", "100 Mb/s"),
    ("RS-SIZE-01", "nodocker75", "post", "1 CPUs, the small profile needs 4"),
    ("RS-SIZE-02", "nodocker75", "post", "2.0 GiB RAM, the small profile needs 16 GiB"),
    ("RS-SIZE-03", "searchbad77", "post", "no data volume of 50 GB"),
    ("RS-STORAGE-01", "dockerbad74", "post", "local filesystem"),
    ("RS-PORT-01", "osold73", "pre", "db writer osold73"),
    ("RS-PORT-02", "osold73", "pre", "443"),
    ("RS-SINGLETON-01", None, "post", "delayed-job-periodic runs 0 times; clacks runs 2 times "
                                      "(nodocker75, rtbad76)"),
]


@pytest.mark.parametrize(("requirement", "host", "phase", "words"), BROKEN)
def test_broken_site_fails_for_the_right_reason(bad: dict[str, Records], other_ntp: NtpServer,
                                                requirement: str, host: str | None, phase: str,
                                                words: str) -> None:
    words = words.replace("{other_ntp}", other_ntp.ipv4)
    record = bad[phase][(requirement, host)]
    assert record["outcome"] == "failed", record
    assert words in record["message"], record["message"]
    assert record["expected"] and record["found"]


def test_the_host_following_another_ntp_server_is_named_in_its_own_record(
        bad: dict[str, Records], ntp_server: NtpServer, other_ntp: NtpServer) -> None:
    odd = bad["post"][("RS-TIME-02", "rtbad76")]
    assert odd["found"] == other_ntp.ipv4
    assert odd["expected"].startswith(f"{ntp_server.ipv4} (the source of 3 of 4 hosts)")
    for name in ("osold73", "dockerbad74", DB):        # the majority passes
        assert bad["post"][("RS-TIME-02", name)]["outcome"] == "passed"
    # no source at all (NTP server unreachable, no client): RS-TIME-01's to say, not ours
    assert bad["post"][("RS-TIME-02", "nodocker75")]["outcome"] == "skipped"
    assert bad["post"][("RS-TIME-02", "searchbad77")]["outcome"] == "skipped"


def test_filtered_flow_is_told_apart_from_open_ones(bad: dict[str, Records]) -> None:
    record = bad["pre"][("RS-PORT-01", "osold73")]
    assert "filtered (no answer within 3 s)" in record["message"]
    assert "1 of 3 flows blocked" in record["message"]  # db writer, search, smtp
    assert bad["pre"][("RS-PORT-01", "dockerbad74")]["outcome"] == "passed"


def test_phase_changes_severity(bad: dict[str, Records]) -> None:
    assert bad["pre"][("RS-SYSCTL-01", "rtbad76")]["severity"] == "warning"
    assert "deployment scripts raise it" in bad["pre"][("RS-SYSCTL-01", "rtbad76")]["message"]
    assert bad["post"][("RS-SYSCTL-01", "rtbad76")]["severity"] == "blocker"


def test_warning_parts_weigh_as_warnings(bad: dict[str, Records]) -> None:
    # json-file without max-file: rotation by size only is a warning, not a blocker
    assert bad["post"][("RS-DOCKER-03", "dockerbad74")]["severity"] == "warning"
    assert bad["post"][("RS-DOCKER-03", "nodocker75")]["severity"] == "blocker"


def test_login_limit_right_but_dockerd_low(bad: dict[str, Records]) -> None:
    message = bad["post"][("RS-LIMIT-02", "dockerbad74")]["message"]
    assert "login session" not in message  # the login view passes (100000 via the shim)


def test_share_probe_is_removed(lab: dict[str, LabHost], good: dict[str, Records]) -> None:
    left = lab[DB].run("ls -A /srv/rs-share", check=True).stdout.split()
    assert not [name for name in left if name.startswith(".rs-preflight-probe-")]
    assert good["post"][("RS-STORAGE-01", "okjob71")]["message"].endswith(
        "sees the probe file written on okapp70")
