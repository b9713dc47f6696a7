"""Facts about the containers and networks of a host's Docker daemon, as ``docker inspect``
tells them: what is running, how it logs and restarts, its Compose project and service, the
Traefik router rules of its labels, and which networks are internal.

Only the fields the checks read leave the host: a Go template picks them out of ``docker
inspect`` (never the whole document — its environment holds secrets), and of the labels only
Traefik's router rules and Compose's project/service/network names pass a filter on the host.

>>> parse_containers(0, 'abc name "/web"\\nabc state ["running",false,null,0]\\n')["abc"]
{'name': 'web', 'labels': {}, 'status': 'running', 'restarting': False, 'health': None, \
'exit_code': 0}
"""

from __future__ import annotations

import json
import re
from typing import Any

from rs_preflight.gather.facts import FactUnavailable, section
from rs_preflight.spec.redact import clip

# One line per field, each starting with the container's ID and a tag; labels one per line.
_CONTAINER_FORMAT = (
    '{{.Id}} name {{json .Name}}\n'
    '{{.Id}} image {{json .Config.Image}}\n'
    '{{.Id}} state [{{json .State.Status}},{{json .State.Restarting}},'
    '{{with index .State "Health"}}{{json .Status}}{{else}}null{{end}},'
    '{{json .State.ExitCode}}]\n'
    '{{.Id}} restart {{json .HostConfig.RestartPolicy.Name}}\n'
    '{{.Id}} log {{json .HostConfig.LogConfig}}\n'
    '{{range $k, $v := .Config.Labels}}{{$.Id}} label {{json $k}} {{json $v}}\n{{end}}')
# the labels read (Traefik's router rules, Compose's names); every other label stays on the host
_LABELS = (r'"(traefik\.http\.routers\.[^"]+\.rule|com\.docker\.compose\.(project|service|'
           r'oneoff))"')
_KEEP = rf'^[0-9a-f]+ (name|image|state|restart|log) |^[0-9a-f]+ label {_LABELS} '
NO_DOCKER = "@@no-docker@@"
_GONE = re.compile(r"No such (object|container|network)", re.IGNORECASE)


def _containers_command() -> str:
    # -a: a stopped Compose service must be seen to be reported; xargs -r: none, no inspect
    return (f"command -v docker >/dev/null 2>&1 || {{ echo {NO_DOCKER}; exit 0; }}; "
            f"docker ps -aq --no-trunc | xargs -r docker inspect --format "
            f"'{_CONTAINER_FORMAT}' | grep -E '{_KEEP}'")


@section("docker_containers", _containers_command(), group="docker")
def parse_containers(rc: int, text: str) -> dict[str, dict[str, Any]]:
    """``{id: {name, image, status, restarting, health, exit_code, restart, log_driver,
    log_opts, labels}}`` of every container, running or not ({} without Docker)."""
    if NO_DOCKER in text:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        cid, _, rest = line.partition(" ")
        tag, _, value = rest.partition(" ")
        if not cid or not tag or any(c not in "0123456789abcdef" for c in cid):
            if _GONE.search(line):  # removed between ps and inspect: not there any more
                continue
            if line.strip():  # the daemon's own words: it does not answer
                raise FactUnavailable(f"docker inspect: {clip(line.strip(), 200)}")
            continue
        box = out.setdefault(cid, {"name": cid[:12], "labels": {}})
        _field(box, tag, value)
    return out


def _field(box: dict[str, Any], tag: str, value: str) -> None:
    if tag == "name":
        box["name"] = str(json.loads(value)).lstrip("/")
    elif tag == "image":
        box["image"] = json.loads(value)
    elif tag == "state":
        status, restarting, health, code = json.loads(value)
        box.update(status=status, restarting=restarting, health=health, exit_code=code)
    elif tag == "restart":
        box["restart"] = json.loads(value) or "no"
    elif tag == "log":
        config = json.loads(value) or {}
        box["log_driver"] = config.get("Type") or ""
        box["log_opts"] = config.get("Config") or {}
    elif tag == "label":
        key, _, label = value.partition(" ")
        box["labels"][json.loads(key)] = json.loads(label)


_NETWORK_FORMAT = ('[{{json .Name}},{{json .Driver}},{{json .Internal}},'
                   '{{json (index .Labels "com.docker.compose.network")}},'
                   '{{json (index .Labels "com.docker.compose.project")}}]')


@section("docker_networks", "command -v docker >/dev/null 2>&1 || "
                           f"{{ echo {NO_DOCKER}; exit 0; }}; docker network ls -q | "
                           f"xargs -r docker network inspect --format '{_NETWORK_FORMAT}'",
         group="docker")
def parse_networks(rc: int, text: str) -> list[dict[str, Any]]:
    """``[{name, driver, internal, compose_network, compose_project}]`` of every network."""
    if NO_DOCKER in text:
        return []
    out = []
    for line in text.splitlines():
        if not line.startswith('["'):
            if line.strip() and not _GONE.search(line):
                raise FactUnavailable(f"docker network inspect: {clip(line.strip(), 200)}")
            continue
        name, driver, internal, network, project = json.loads(line)
        out.append({"name": name, "driver": driver, "internal": bool(internal),
                    "compose_network": network or None, "compose_project": project or None})
    if rc != 0 and not out:
        raise FactUnavailable(f"docker network inspect exited {rc}")
    return out


__all__ = ["parse_containers", "parse_networks"]
