"""The judges of a Docker host's containers and networks (seeds/002's standard), both ways,
and the parsers of the ``docker inspect`` output they read."""

from __future__ import annotations

from typing import Any

import pytest

from rs_preflight.gather.facts.containers import parse_containers, parse_networks
from rs_preflight.judge import containers as judge
from rs_preflight.judge.docker import log_rotation
from rs_preflight.judge.versions import in_range, parse_version

ROTATED = {"max-size": "10m", "max-file": "3", "compress": "true"}


def box(name: str, status: str = "running", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "status": status, "restarting": False, "health": None,
                           "exit_code": 0, "restart": "unless-stopped", "image": "nginx:1.27",
                           "log_driver": "json-file", "log_opts": dict(ROTATED), "labels": {}}
    out.update(extra)
    return out


def daemon(opts: dict[str, Any]) -> dict[str, Any]:
    return {"present": True, "error": None,
            "config": {"log-driver": "json-file", "log-opts": opts}}


@pytest.mark.parametrize(("opts", "outcome", "severity"), [
    (ROTATED, "passed", None),
    ({"max-size": "10m", "max-file": "3"}, "failed", None),
    ({"max-size": "10m", "max-file": "3", "compress": "false"}, "failed", None),
    ({"max-size": "10m", "max-file": "3", "compress": True}, "failed", None),
    ({"max-size": "100m", "max-file": "3", "compress": "true"}, "failed", "warning"),
])
def test_daemon_logs_must_be_compressed_when_the_standard_says_so(
        opts: dict[str, Any], outcome: str, severity: str | None) -> None:
    got = log_rotation(daemon(opts), "10m", 3, compress=True)
    assert (got.outcome, got.severity) == (outcome, severity), got.message
    assert got.expected == 'json-file with log-opts max-size <= 10m, max-file <= 3, ' \
                           'compress "true"'


def test_without_compress_asked_the_r_service_rule_is_unchanged() -> None:
    got = log_rotation(daemon({"max-size": "100m", "max-file": "10"}), "100m", 10)
    assert got.outcome == "passed" and "compress" not in (got.expected or "")


def test_each_running_container_logs_as_required() -> None:
    ok = {"a": box("web"), "b": box("old", status="exited", log_opts={})}
    assert judge.container_logs(ok, "10m", 3, True).outcome == "passed"
    bad = {"a": box("web"), "b": box("db", log_opts={"max-size": "10m", "max-file": "3"}),
           "c": box("cache", log_driver="syslog")}
    got = judge.container_logs(bad, "10m", 3, True)
    assert got.outcome == "failed"
    assert got.found == "cache (log driver syslog), db (compress unset)"
    assert judge.container_logs({}, "10m", 3, True).outcome == "skipped"


def test_a_container_logs_with_what_it_was_created_with() -> None:
    """Docker stores daemon.json's options into a container at creation: a container created
    without them (Config {}) does not rotate, whatever daemon.json says now."""
    got = judge.container_logs({"a": box("web", log_opts={})}, "10m", 3, True)
    assert (got.outcome, got.found) == ("failed", "web (json-file without max-size (never "
                                                  "rotates))")


def test_restart_policy_names_each_container_that_would_not_come_back() -> None:
    cs = {"a": box("web"), "b": box("job", restart="no"),
          "c": box("db", status="exited", restart="always",
                   labels={judge.PROJECT: "app", judge.SERVICE: "db"})}
    got = judge.restart_policy(cs, ["unless-stopped"])
    assert got.outcome == "failed"
    assert got.found == "db (restart: always), job (restart: no)"
    assert judge.restart_policy({"a": box("web")}, ["unless-stopped"]).outcome == "passed"


def compose(name: str, service: str, project: str = "app", **extra: Any) -> dict[str, Any]:
    return box(name, labels={judge.PROJECT: project, judge.SERVICE: service}, **extra)


def test_every_compose_service_runs() -> None:
    cs = {"a": compose("app-web-1", "web"), "b": compose("app-db-1", "db"),
          "c": box("app-run-x", labels={judge.PROJECT: "app", judge.SERVICE: "web",
                                        judge.ONEOFF: "True"}, status="exited")}
    assert judge.compose_services(cs).outcome == "passed"
    cs["d"] = compose("app-worker-1", "worker", status="exited", exit_code=137)
    cs["e"] = compose("app-cache-1", "cache", health="unhealthy")
    got = judge.compose_services(cs)
    assert got.outcome == "failed"
    assert "app/cache (running, unhealthy)" in got.message
    assert "app/worker (exited, exit code 137)" in got.message
    assert judge.compose_services({"a": box("web")}).outcome == "failed"
    missing = judge.compose_services({"a": compose("x", "web")}, services=["web", "queue"])
    assert missing.outcome == "failed" and "queue (no container)" in missing.message


@pytest.mark.parametrize(("image", "outcome"), [
    ("traefik:v3.0", "passed"), ("docker.io/library/traefik:v3.1.2", "passed"),
    ("traefik:v2.11", "failed"), ("traefik:4.0", "failed"), ("traefik:latest", "error"),
    ("traefik", "error"), ("nginx:1.27", "failed"),
])
def test_traefik_3_runs(image: str, outcome: str) -> None:
    got = judge.image_running({"a": box("proxy", image=image)}, "traefik",
                              {"min": "3.0", "below": "4"})
    assert got.outcome == outcome, got.message


def test_an_image_that_only_exists_stopped_does_not_run() -> None:
    got = judge.image_running({"a": box("proxy", image="traefik:v3.0", status="exited")},
                              "traefik", {"min": "3.0"})
    assert got.outcome == "failed"


def test_image_parts() -> None:
    assert judge.image_parts("registry:5000/library/traefik:v3.0@sha256:ab") == \
        ("traefik", "v3.0")
    assert judge.image_parts("registry:5000/traefik") == ("traefik", "")


WANTED = {"database-network": {"driver": "bridge", "internal": True},
          "traefik-network": {"driver": "bridge", "internal": False}}


def net(name: str, internal: bool, compose: str | None = None, driver: str = "bridge"
        ) -> dict[str, Any]:
    return {"name": name, "driver": driver, "internal": internal, "compose_network": compose,
            "compose_project": "app" if compose else None}


def test_networks_as_declared_also_under_a_compose_project_prefix() -> None:
    found = [net("app_database-network", True, "database-network"),
             net("traefik-network", False)]
    assert judge.networks(found, WANTED).outcome == "passed"


def test_a_network_declared_internal_that_is_not_fails() -> None:
    found = [net("app_database-network", False, "database-network"),
             net("traefik-network", False)]
    got = judge.networks(found, WANTED)
    assert got.outcome == "failed"
    assert got.message == "networks not as declared: app_database-network is not internal"


def test_a_missing_network_fails() -> None:
    got = judge.networks([net("traefik-network", False, driver="overlay")], WANTED)
    assert got.outcome == "failed"
    assert "database-network does not exist" in got.message
    assert "traefik-network uses driver overlay" in got.message


def test_traefik_names_come_from_router_rules_of_running_containers() -> None:
    rules = {"traefik.http.routers.dir.rule": "Host(`dir.tapbot.kz`) || Host(`Pg.tapbot.kz`)",
             "traefik.http.routers.api.rule": "Host(`a.x`, `b.x`) && PathPrefix(`/api`)",
             "traefik.http.routers.re.rule": "HostRegexp(`{sub:[a-z]+}.x`)",
             "traefik.http.services.dir.loadbalancer.server.port": "80"}
    cs = {"a": box("directus", labels=rules),
          "b": box("gone", status="exited",
                   labels={"traefik.http.routers.old.rule": "Host(`old.x`)"})}
    assert judge.traefik_names(cs) == ["dir.tapbot.kz", "pg.tapbot.kz", "a.x", "b.x"]


def test_versions() -> None:
    assert parse_version("3.10.8-1.1") == (3, 10, 8) and parse_version("latest") is None
    assert in_range("3.10.8", {"min": "3.10", "below": "5"})
    assert not in_range("3.9.1", {"min": "3.10"})
    assert in_range("17.2", {"min": "13", "below": "18"})
    assert not in_range("18.0", {"min": "13", "below": "18"})


CONTAINERS_OUTPUT = """\
0a1b name "/app-web-1"
0a1b image "traefik:v3.0"
0a1b state ["running",false,"healthy",0]
0a1b restart "unless-stopped"
0a1b log {"Type":"json-file","Config":{"compress":"true","max-file":"3","max-size":"10m"}}
0a1b label "com.docker.compose.project" "app"
0a1b label "traefik.http.routers.web.rule" "Host(`web.x`)"
Error: No such object: 9f9f
2c3d name "/one"
2c3d state ["exited",false,null,1]
2c3d restart ""
"""


def test_containers_parse() -> None:
    got = parse_containers(0, CONTAINERS_OUTPUT)
    assert got["0a1b"]["name"] == "app-web-1" and got["0a1b"]["health"] == "healthy"
    assert got["0a1b"]["log_opts"]["compress"] == "true"
    assert got["0a1b"]["labels"] == {"com.docker.compose.project": "app",
                                     "traefik.http.routers.web.rule": "Host(`web.x`)"}
    assert got["2c3d"]["restart"] == "no" and got["2c3d"]["exit_code"] == 1
    assert parse_containers(0, "@@no-docker@@\n") == {}


def test_a_daemon_that_does_not_answer_is_not_an_empty_host() -> None:
    from rs_preflight.gather.facts import FactUnavailable
    with pytest.raises(FactUnavailable, match="Cannot connect to the Docker daemon"):
        parse_containers(1, "Cannot connect to the Docker daemon at unix:///var/run/docker."
                            "sock. Is the docker daemon running?\n")


def test_networks_parse() -> None:
    text = ('["bridge","bridge",false,"",""]\n'
            '["app_database-network","bridge",true,"database-network","app"]\n')
    assert parse_networks(0, text)[1] == {
        "name": "app_database-network", "driver": "bridge", "internal": True,
        "compose_network": "database-network", "compose_project": "app"}
