"""Judges of the host checks (issue 4): Docker, limits' two views, time, sizing, storage,
ports, singletons — truth tables, no hosts."""

from __future__ import annotations

from typing import Any

import pytest

from rs_preflight.judge import docker, limits, ports, size, storage, time
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.matrix import Flow
from rs_preflight.spec.results import FAILED, PASSED

GIB = 1024 * 1024


def daemon(config: dict[str, Any] | None, present: bool = True,
           error: str | None = None) -> dict[str, Any]:
    return {"present": present, "config": config, "error": error, "text": ""}


@pytest.mark.parametrize(("config", "outcome", "severity"), [
    ({"log-driver": "json-file", "log-opts": {"max-size": "100m", "max-file": "10"}},
     PASSED, None),
    ({"log-opts": {"max-size": "50m", "max-file": "3"}}, PASSED, None),   # json-file default
    ({"log-driver": "local"}, PASSED, None),
    ({"log-driver": "journald"}, PASSED, None),
    ({"log-driver": "json-file"}, FAILED, None),                          # never rotates
    ({"log-opts": {"max-size": "100m"}}, FAILED, "warning"),              # no max-file
    ({"log-opts": {"max-size": "1g", "max-file": "10"}}, FAILED, "warning"),
    ({"log-opts": {"max-size": "100m", "max-file": 10}}, FAILED, None),   # not a string
])
def test_log_rotation(config: dict[str, Any], outcome: str, severity: str | None) -> None:
    verdict = docker.log_rotation(daemon(config), "100m", 10)
    assert (verdict.outcome, verdict.severity) == (outcome, severity)


def test_no_daemon_json_means_json_file_without_rotation() -> None:
    verdict = docker.log_rotation(daemon({}, present=False), "100m", 10)
    assert verdict.outcome == FAILED and "no daemon.json" in verdict.message


def test_invalid_daemon_json_says_where() -> None:
    verdict = docker.log_rotation(daemon(None, error="line 3 column 1: Expecting property"),
                                  "100m", 10)
    assert verdict.outcome == FAILED and "line 3 column 1" in verdict.message


def test_engine_and_compose() -> None:
    assert docker.engine({"installed": False, "client": None, "server": None,
                          "error": "not found"}).outcome == FAILED
    down = docker.engine({"installed": True, "client": "20.10", "server": None,
                          "error": "Cannot connect to the Docker daemon"})
    assert down.outcome == FAILED and "does not answer" in down.message
    assert docker.compose({"version": "2.26.1-4"}, 2).outcome == PASSED
    assert docker.compose({"version": "1.29.2"}, 2).outcome == FAILED
    assert docker.compose({"version": None, "error": "not a docker command"}, 2).outcome \
        == FAILED


def test_containers_get_default_ulimits_before_dockerd() -> None:
    config = {"default-ulimits": {"nofile": {"Soft": 8192, "Hard": 65536}}}
    assert limits.container_nofile("hard", config, {"soft": 1024, "hard": 1024}, {}) == \
        (65536, "daemon.json default-ulimits")
    assert limits.container_nofile("soft", {}, {"soft": 1024, "hard": 4096}, {}) == \
        (1024, "/proc/<dockerd>/limits")
    assert limits.container_nofile("hard", {}, None, {"LimitNOFILE": 1048576}) == \
        (1048576, "systemd LimitNOFILE of docker.service")
    assert limits.container_nofile("hard", {}, None, {}) is None


def test_both_limit_views_must_reach_the_minimum() -> None:
    ok = limits.nofile_views("hard", 100000, (100000, "daemon.json default-ulimits"), 65536)
    assert ok.outcome == PASSED
    low = limits.nofile_views("hard", 100000, (1024, "/proc/<dockerd>/limits"), 65536)
    assert low.outcome == FAILED and "containers' nofile hard limit" in low.message
    assert "login session" not in low.message
    assert limits.nofile_views("soft", 8192, None, 8192).outcome == PASSED  # before Docker


@pytest.mark.parametrize(("chrony", "timedatectl", "ntpq", "outcome"), [
    ({"leap": "Normal", "reference": "10.0.0.1", "stratum": "3"}, {}, None, PASSED),
    ({"leap": "Not synchronised", "reference": "00000000"}, {}, None, FAILED),
    (None, {"NTPSynchronized": "yes"}, None, PASSED),
    (None, {"NTPSynchronized": "no"}, None, FAILED),
    (None, {}, {"synced": True, "reference": "10.0.0.2"}, PASSED),
    (None, {}, None, FAILED),
])
def test_synchronised(chrony: Any, timedatectl: dict[str, str], ntpq: Any, outcome: str
                      ) -> None:
    assert time.synchronised([], chrony, timedatectl, ntpq).outcome == outcome


def test_one_source_and_skew() -> None:
    sources = {"a": "10.0.0.1", "b": "10.0.0.1", "c": "10.0.0.9", "d": None}
    assert time.follows_majority("a", sources).outcome == PASSED
    odd = time.follows_majority("c", sources)
    assert odd.outcome == FAILED and odd.found == "10.0.0.9"
    assert odd.expected is not None and odd.expected.startswith("10.0.0.1 (the source of 2 of 3")
    assert "c follows 10.0.0.9, not the site's source 10.0.0.1 (a, b)" in odd.message
    assert time.follows_majority("d", sources).outcome == "skipped"   # RS-TIME-01 says why
    tie = time.follows_majority("a", {"a": "10.0.0.1", "b": "10.0.0.9"})
    assert tie.outcome == FAILED and "no majority source" in tie.message
    assert "10.0.0.1 (a); 10.0.0.9 (b)" in tie.message
    # 3 s ahead, measured with a 2 ms round trip: fails; 400 ms ± 200 ms passes at 500 ms
    assert time.skew(3.0, 0.002, 500).outcome == FAILED
    assert time.skew(-0.4, 0.4, 500).outcome == PASSED
    # the round trip's uncertainty is given to the host: 600 ms ± 200 ms is not proven > 500
    assert time.skew(0.6, 0.4, 500).outcome == PASSED


SMALL = load_catalogue().profiles["small"]


def test_nominal_takes_the_largest_row_of_a_hosts_roles() -> None:
    need = size.nominal(SMALL, ("job", "search"))
    assert need == {"cpu": 4, "ram_gb": 16, "disks_gb": [30, 50], "ssd": True}
    pilot = load_catalogue().profiles["pilot"]
    pilot_row = size.nominal(pilot, ("db",))
    assert pilot_row is not None and pilot_row["cpu"] == 8  # one row fits every role
    assert size.nominal(SMALL, ("lb",)) is None


def test_ram_allows_five_percent() -> None:
    need = {"ram_gb": 16}
    assert size.ram(int(16 * GIB * 0.96), need, "small", 0.95).outcome == PASSED
    assert size.ram(int(16 * GIB * 0.90), need, "small", 0.95).outcome == FAILED


def fs(target: str, gib: float) -> dict[str, Any]:
    return {"target": target, "size_kb": int(gib * GIB), "source": "/dev/x", "fstype": "ext4"}


def test_disks_boot_data_and_ssd() -> None:
    need = {"disks_gb": [30, 50], "ssd": True}
    ok = size.disks([fs("/", 30), fs("/data", 50)], {"/data": False}, need, "small", 0.9)
    assert ok.outcome == PASSED and "SSD" in ok.message
    rota = size.disks([fs("/", 30), fs("/data", 50)], {"/data": True}, need, "small", 0.9)
    assert rota.outcome == FAILED and rota.severity == "warning"
    small_root = size.disks([fs("/", 20), fs("/data", 50)], {}, need, "small", 0.9)
    assert small_root.outcome == FAILED and small_root.severity is None
    no_data = size.disks([fs("/", 30), fs("/tmp", 100)], {}, need, "small", 0.9)
    assert no_data.outcome == FAILED and "no data volume of 50 GB" in no_data.message


def test_host_counts() -> None:
    assert size.host_counts({"app": 2, "job": 2, "realtime": 1, "db": 1, "search": 1,
                             "deploy": 1}, SMALL, "small").outcome == PASSED
    short = size.host_counts({"app": 1, "job": 2}, SMALL, "small")
    assert short.outcome == FAILED and "app: 1 of 2" in short.message


def test_share_must_be_network_writable_and_the_same() -> None:
    types = load_catalogue()["RS-STORAGE-01"].params["network_fstypes"]
    share = {"fstype": "fuse.sshfs", "source": "s:/x", "target": "/mnt/s", "access": "writable"}
    assert storage.network_share("/mnt/s", share, types).outcome == PASSED
    local = {**share, "fstype": "ext4"}
    assert "local filesystem" in storage.network_share("/mnt/s", local, types).message
    ro = {**share, "access": "read-only"}
    assert storage.network_share("/mnt/s", ro, types).outcome == FAILED
    assert storage.same_share("b", "a", "/p", None, "x").outcome == FAILED
    assert storage.same_share("b", "a", "/p", "y", "x").outcome == FAILED
    assert storage.same_share("b", "a", "/p", "x\n", "x").outcome == PASSED


def test_flows_name_each_blocked_one() -> None:
    flows = [Flow("db writer", "app1", "10.0.0.5", 5432, "DB_WRITER_HOST"),
             Flow("smtp", "app1", "10.0.0.6", 587, "RSERVICE_SMTP_HOST")]
    probes = {0: {"state": "filtered", "ms": 3000, "error": ""},
              1: {"state": "open", "ms": 1, "error": ""}}
    verdict = ports.flows(flows, probes, 3)
    assert verdict.outcome == FAILED
    assert verdict.message.startswith("1 of 2 flows blocked: db writer app1 → 10.0.0.5:5432 "
                                      "(DB_WRITER_HOST): filtered (no answer within 3 s)")


def test_ports_free_and_singletons() -> None:
    assert ports.ports_free([80, 443], {22: "sshd"}).outcome == PASSED
    taken = ports.ports_free([80, 443], {443: "nginx"})
    assert taken.outcome == FAILED and "443 (by nginx)" in taken.message
    assert ports.singletons(["clacks"], {"clacks": ["job1"]}).outcome == PASSED
    twice = ports.singletons(["clacks", "dj"], {"clacks": ["job1", "job2"]})
    assert twice.message == "clacks runs 2 times (job1, job2); dj runs 0 times"


def test_matrix_flows_per_phase_and_destination() -> None:
    from rs_preflight.spec.envfile import EnvValue
    from rs_preflight.spec.matrix import flows_for
    from rs_preflight.spec.site import Host, Settings, Site

    def env(**kw: str) -> dict[str, EnvValue]:
        return {k: EnvValue(k, v, "site") for k, v in kw.items()}

    hosts = (Host("app1", "10.0.0.11", ("app",)), Host("db1", "10.0.0.41", ("db",)),
             Host("rt1", "10.0.0.31", ("realtime",)), Host("job1", "10.0.0.21", ("job",)))
    settings = Settings(overrides=env(DB_WRITER_HOST="db1", DB_WRITER_PORT="6432",
                                      ELASTICSEARCH_URLS="https://s1:9201,s2",
                                      CLACKS_ADDRESS="imap.example", CLACKS_PORT="993"))
    site = Site(name="t", file=None, hosts=hosts, settings=settings)
    table = load_catalogue()["RS-PORT-01"].params["flows"]
    pre = [(f.label, f.destination, f.port) for f in flows_for(site, hosts[0], table, "pre")]
    assert pre == [("db writer", "10.0.0.41", 6432), ("search", "s1", 9201),
                   ("search", "s2", 9200)]
    post = {(f.label, f.destination, f.port) for f in flows_for(site, hosts[0], table, "post")}
    assert ("redis", "10.0.0.31", 6379) in post and ("memcached", "10.0.0.21", 11211) in post
    job = {f.label for f in flows_for(site, hosts[3], table, "pre")}
    assert "imap (clacks)" in job
    assert flows_for(site, hosts[2], table, "pre") == []  # realtime: nothing external


def test_lb_flows_follow_the_per_role_backend_ports() -> None:
    """lb → app uses the declared port; with nothing declared 443 or 80, one open is enough."""
    from rs_preflight.judge import ports
    from rs_preflight.spec.matrix import flows_for
    from rs_preflight.spec.site import Host, Site

    hosts = (Host("lb1", "10.0.0.1", ("lb",)), Host("app1", "10.0.0.2", ("app",)),
             Host("rt1", "10.0.0.3", ("realtime",)))
    table = [{"label": "lb → app (nginx)", "from": ["lb"], "to_role": "app",
              "backend_ports": "app", "port": 443},
             {"label": "lb → realtime (faye)", "from": ["lb"], "to_role": "realtime",
              "backend_ports": "realtime", "port": 443}]
    declared = Site(name="s", file=None, hosts=hosts,
                    lb_backends={"app": (80, False), "realtime": (8443, True)})
    assert [(f.destination, f.port) for f in flows_for(declared, hosts[0], table, "post")] == \
        [("10.0.0.2", 80), ("10.0.0.3", 8443)]
    free = flows_for(Site(name="s", file=None, hosts=hosts), hosts[0], table, "post")
    assert [(f.destination, f.port) for f in free] == \
        [("10.0.0.2", 443), ("10.0.0.2", 80), ("10.0.0.3", 443)]
    closed = {"state": "refused", "ms": 1, "error": "refused"}
    opened = {"state": "open", "ms": 1, "error": ""}
    ok = ports.flows(free, {0: closed, 1: opened, 2: opened}, 3)
    assert ok.outcome == "passed" and "10.0.0.2:80" in ok.message and ":443 (role app" not in \
        ok.message
    bad = ports.flows(free, {0: closed, 1: closed, 2: opened}, 3)
    assert bad.outcome == "failed" and "2 of 3 flows blocked" in bad.message


def test_a_container_and_its_processes_are_one_instance() -> None:
    from rs_preflight.judge import ports

    cid = "100889840c4e4d7794dc7a1038a63fffb7e02523c10e81b07c2bc709d1463435"
    other = "2" * 64
    host_proc = ("-", "clacks", "/usr/local/bin/clacks run")
    in_container = (f"0::/docker/{cid}", "clacks", "/clacks")
    child = (f"0::/system.slice/docker-{cid}.scope", "clacks", "clacks worker")
    assert ports.instances("clacks", [in_container], [(cid, "clacks")]) == 1
    assert ports.instances("clacks", [in_container, child], [(cid, "rs_clacks_1")]) == 1
    assert ports.instances("clacks", [in_container], []) == 1      # Docker does not answer
    assert ports.instances("clacks", [host_proc], []) == 1
    assert ports.instances("clacks", [host_proc, ("-", "clacks", "clacks")], []) == 2
    two = [in_container, (f"0::/docker/{other}", "clacks", "/clacks")]
    assert ports.instances("clacks", two, [(cid, "clacks"), (other, "clacks-2")]) == 2
    assert ports.instances("delayed-job-periodic", [host_proc], [(cid, "clacks")]) == 0
