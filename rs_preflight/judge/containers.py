"""Judges of a Docker host's containers and networks, from ``docker inspect`` (fact sections
``docker_containers``, ``docker_networks``): how running containers log and restart, whether
every Compose service runs, whether an image runs at an accepted version, and whether the
networks a standard declares exist as declared (internal or not).

>>> c = {"a1": {"name": "web", "status": "running", "restart": "no", "labels": {}}}
>>> restart_policy(c, ["unless-stopped"]).message
'1 of 1 container(s) would not come back after a reboot: web (restart: no)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rs_preflight.judge.docker import size_bytes
from rs_preflight.judge.versions import in_range, parse_version, range_text
from rs_preflight.spec.results import Verdict, error, failed, passed, skipped

Containers = Mapping[str, Mapping[str, Any]]
PROJECT, SERVICE, ONEOFF = ("com.docker.compose.project", "com.docker.compose.service",
                            "com.docker.compose.oneoff")
TRUE_WORDS = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool, as Docker reads


def running(containers: Containers) -> list[Mapping[str, Any]]:
    """The containers that run now, by name."""
    return sorted((c for c in containers.values() if c.get("status") == "running"),
                  key=lambda c: str(c.get("name")))


def _names(items: Iterable[str], limit: int = 8) -> str:
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def log_options(driver: str, opts: Mapping[str, Any], max_size: str, max_file: int,
                compress: bool) -> str | None:
    """Why a log configuration does not rotate as required (None when it does): json-file
    with max-size ≤ ``max_size``, max-file ≤ ``max_file`` and, if asked, compress "true";
    ``local`` and ``journald`` rotate by themselves."""
    if driver in ("local", "journald"):
        return None
    if driver != "json-file":
        return f"log driver {driver or 'unknown'}"
    size, files = opts.get("max-size"), opts.get("max-file")
    if size is None:
        return "json-file without max-size (never rotates)"
    if (size_bytes(str(size)) or 0) > (size_bytes(max_size) or 0):
        return f"max-size {size}"
    if files is None or not str(files).isdigit() or int(str(files)) > max_file:
        return f"max-file {files or 'unset'}"
    if compress and str(opts.get("compress", "")) not in TRUE_WORDS:
        return f"compress {opts.get('compress') or 'unset'}"
    return None


def container_logs(containers: Containers, max_size: str, max_file: int,
                   compress: bool) -> Verdict:
    """Every running container's log configuration, as ``docker inspect`` shows it, rotates
    as required. Docker writes daemon.json's ``log-opts`` into a container when it creates it
    (under the container's own, Compose's ``logging:``), so that is what the container runs
    with: one created before daemon.json changed keeps its old options until it is created
    again (seen in the lab: a container created without daemon options shows ``Config {}``)."""
    want = f"json-file, max-size <= {max_size}, max-file <= {max_file}" + \
        (', compress "true"' if compress else "")
    live = running(containers)
    if not live:
        return skipped("no container runs on this host (nothing logs yet)")
    bad = [f"{c['name']} ({why})" for c in live
           if (why := log_options(str(c.get("log_driver") or ""), c.get("log_opts") or {},
                                  max_size, max_file, compress))]
    if bad:
        return failed(f"{len(bad)} of {len(live)} running container(s) log otherwise: "
                      f"{_names(bad)}", want, _names(bad))
    return passed(f"all {len(live)} running container(s) rotate their logs", want,
                  f"{len(live)} container(s) as required")


def restart_policy(containers: Containers, policies: Sequence[str]) -> Verdict:
    """Every running container, and every container of a Compose service, restarts with
    one of ``policies`` (``unless-stopped``: back after a reboot unless stopped by hand)."""
    want = "restart: " + " or ".join(policies)
    judged = [c for c in containers.values()
              if c.get("status") == "running" or _service(c) is not None]
    if not judged:
        return skipped("no container runs on this host")
    bad = sorted(f"{c['name']} (restart: {c.get('restart') or 'no'})" for c in judged
                 if (c.get("restart") or "no") not in policies)
    if bad:
        return failed(f"{len(bad)} of {len(judged)} container(s) would not come back after a "
                      f"reboot: {_names(bad)}", want, _names(bad))
    return passed(f"all {len(judged)} container(s) restart with {'/'.join(policies)}", want,
                  f"{len(judged)} container(s) as required")


def _service(c: Mapping[str, Any]) -> tuple[str, str] | None:
    """(project, service) of a Compose service's container; None for others and one-offs."""
    labels = c.get("labels") or {}
    if PROJECT not in labels or str(labels.get(ONEOFF, "False")) in TRUE_WORDS:
        return None
    return str(labels[PROJECT]), str(labels.get(SERVICE, c.get("name")))


def _state(c: Mapping[str, Any]) -> str | None:
    """Why a service's container is not running well (None when it is)."""
    status = c.get("status")
    if c.get("restarting") or status == "restarting":
        return "restarting"
    if status != "running":
        return f"{status}, exit code {c.get('exit_code')}"
    if c.get("health") == "unhealthy":
        return "running, unhealthy"
    return None


def compose_services(containers: Containers, project: str | None = None,
                     services: Sequence[str] = ()) -> Verdict:
    """Every container of the Compose project(s) runs (not exited, restarting or unhealthy),
    and each of ``services`` has one."""
    scope = f"project {project}" if project else "every Compose project"
    want = f"every service of {scope} running" + \
        (f" (at least {', '.join(services)})" if services else "")
    mine = {cid: sv for cid, c in containers.items()
            if (sv := _service(c)) is not None and (project is None or sv[0] == project)}
    if not mine:
        return failed(f"no container of {scope} was found (docker ps -a)", want, "none")
    bad = sorted(f"{p}/{s} ({why})" for cid, (p, s) in mine.items()
                 if (why := _state(containers[cid])))
    missing = [s for s in services if s not in {sv[1] for sv in mine.values()}]
    problems = bad + [f"{s} (no container)" for s in missing]
    found = f"{len(mine) - len(bad)} of {len(mine)} container(s) running"
    if problems:
        return failed(f"Compose services not running: {_names(problems)}", want,
                      f"{found}; {_names(problems)}")
    projects = sorted({p for p, _ in mine.values()})
    return passed(f"{found} ({', '.join(projects)})", want, found)


def image_parts(image: str) -> tuple[str, str]:
    """``registry:5000/library/traefik:v3.0@sha256:…`` → (``traefik``, ``v3.0``)."""
    ref = image.split("@", 1)[0]
    path, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    return path.rsplit("/", 1)[-1], tag


def image_running(containers: Containers, image: str, version: Mapping[str, str]) -> Verdict:
    """A running container of ``image`` (the last part of its name), its tag a version in
    ``version`` ({min, below})."""
    want = f"a running container of image {image}, version {range_text(version)}"
    hits = [(c["name"], image_parts(str(c.get("image") or ""))[1]) for c in running(containers)
            if image_parts(str(c.get("image") or ""))[0] == image]
    if not hits:
        seen = _names(sorted({image_parts(str(c.get("image") or ""))[0]
                              for c in running(containers)})) or "none"
        return failed(f"no running container of image {image}", want, f"images running: {seen}")
    good = [(n, t) for n, t in hits if in_range(t, version)]
    found = _names(f"{n} ({image}:{t or 'latest'})" for n, t in hits)
    if good:
        return passed(f"{image} runs: {found}", want, found)
    unknown = [(n, t) for n, t in hits if parse_version(t) is None]
    if len(unknown) == len(hits):
        return error(f"{image} runs, but its tag does not say its version ({found}): run a "
                     "versioned tag")
    return failed(f"{image} runs at a version outside {range_text(version)}: {found}", want,
                  found)


def networks(found: Sequence[Mapping[str, Any]], wanted: Mapping[str, Mapping[str, Any]]
             ) -> Verdict:
    """Each network of ``wanted`` ({name: {driver, internal}}) exists — by its name, or by
    the name Compose gave it in a project (label ``com.docker.compose.network``) — with that
    driver and ``Internal`` as declared."""
    want = "; ".join(f"{name}: {spec.get('driver', 'any driver')}, "
                     f"{'internal' if spec.get('internal') else 'not internal'}"
                     for name, spec in wanted.items())
    problems, seen = [], []
    for name, spec in wanted.items():
        hits = [n for n in found if name in (n.get("name"), n.get("compose_network"))]
        if not hits:
            problems.append(f"{name} does not exist")
            continue
        for net in hits:
            shown = str(net.get("name"))
            seen.append(f"{shown} ({net.get('driver')}, "
                        f"{'internal' if net.get('internal') else 'not internal'})")
            if "internal" in spec and bool(net.get("internal")) != bool(spec["internal"]):
                problems.append(f"{shown} is {'' if net.get('internal') else 'not '}internal")
            if spec.get("driver") and net.get("driver") != spec["driver"]:
                problems.append(f"{shown} uses driver {net.get('driver')}")
    if problems:
        return failed("networks not as declared: " + "; ".join(problems), want,
                      "; ".join(seen) or "none of them")
    return passed("networks as declared: " + "; ".join(seen), want, "; ".join(seen))


ROUTER_RULE = re.compile(r"^traefik\.http\.routers\.[^.]+\.rule$")
HOST_MATCHER = re.compile(r"\bHost\(([^)]*)\)")
QUOTED = re.compile(r"`([^`]*)`|\"([^\"]*)\"")


def traefik_names(containers: Containers) -> list[str]:
    """The names of every ``Host(`…`)`` in the router rules of the running containers'
    Traefik labels (``HostRegexp`` and path rules name no host and are left out)."""
    names: list[str] = []
    for c in running(containers):
        for key, rule in (c.get("labels") or {}).items():
            if not ROUTER_RULE.match(key):
                continue
            for args in HOST_MATCHER.findall(str(rule)):
                for a, b in QUOTED.findall(args):
                    name = (a or b).strip().rstrip(".").lower()
                    if name and name not in names:
                        names.append(name)
    return names


__all__ = ["compose_services", "container_logs", "image_parts",
           "image_running", "log_options", "networks", "restart_policy", "running",
           "traefik_names"]
