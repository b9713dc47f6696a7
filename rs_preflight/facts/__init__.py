"""Gathering a host's facts: every section in ONE remote command, cached for the run.

Each section is a fixed shell snippet (user-supplied values only ever through ``shlex.quote``)
and a parser. ``gather`` joins all sections into one ``sh -c`` script whose output is split on
a per-run random marker, so a host costs one round trip however many checks read it.

>>> facts = gather(thost, host, site)       # one SSH exec
>>> facts.get("os_release")["ID"]
'ubuntu'
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import testinfra.host

from .errors import CheckError
from .site import Host, Site

Parser = Callable[[int, str], Any]
Command = Callable[[Site, Host], str]


@dataclass(frozen=True)
class Section:
    name: str
    command: Command
    parse: Parser


SECTIONS: dict[str, Section] = {}


def section(name: str, command: str | Command) -> Callable[[Parser], Parser]:
    """Register a fact section: ``command`` runs on the host, the decorated function parses."""
    if callable(command):
        cmd: Command = command
    else:
        text: str = command

        def cmd(_site: Site, _host: Host) -> str:
            return text

    def register(parse: Parser) -> Parser:
        SECTIONS[name] = Section(name, cmd, parse)
        return parse
    return register


class FactUnavailable(Exception):
    """A section's command failed or its output did not parse (stored, raised on access)."""


@dataclass
class HostFacts:
    """The parsed sections of one host; ``get`` raises ``CheckError`` for a missing one."""

    host: str
    values: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    round_trips: int = 0
    seconds: float = 0.0

    def get(self, name: str) -> Any:
        if name in self.problems:
            raise CheckError(f"could not read {name} on {self.host}: {self.problems[name]}")
        if name not in self.values:
            raise CheckError(f"fact {name!r} was not gathered on {self.host}")
        return self.values[name]


def build_script(site: Site, host: Host, marker: str, names: list[str]) -> str:
    parts = []
    for name in names:
        cmd = SECTIONS[name].command(site, host)
        parts.append(f"printf '\\n{marker} {name}\\n'; ( {cmd} ) 2>&1; "
                     f"printf '\\n{marker} rc=%s\\n' \"$?\"")
    return "\n".join(parts)


def split_output(output: str, marker: str) -> dict[str, tuple[int, str]]:
    """``{section: (exit code, output)}`` from the joined script's stdout."""
    out: dict[str, tuple[int, str]] = {}
    name: str | None = None
    lines: list[str] = []
    for line in output.split("\n"):
        if not line.startswith(f"{marker} "):
            lines.append(line)
            continue
        tag = line[len(marker) + 1:]
        if tag.startswith("rc=") and name is not None:
            out[name] = (int(tag[3:] or 1), "\n".join(lines).strip("\n"))
            name = None
        else:
            name, lines = tag, []
    return out


def gather(thost: testinfra.host.Host, host: Host, site: Site,
           names: list[str] | None = None) -> HostFacts:
    """Run every section on ``host`` in one command and parse each; never raises for a section."""
    names = names or sorted(SECTIONS)
    marker = f"@@rs-{secrets.token_hex(6)}@@"
    started = time.monotonic()
    result = thost.run("sh -c %s", build_script(site, host, marker, names))
    facts = HostFacts(host.name, round_trips=1, seconds=time.monotonic() - started)
    raw = split_output(result.stdout, marker)
    for name in names:
        if name not in raw:
            facts.problems[name] = f"no output (the fact script exited {result.rc})"
            continue
        rc, text = raw[name]
        try:
            facts.values[name] = SECTIONS[name].parse(rc, text)
        except FactUnavailable as exc:
            facts.problems[name] = str(exc)
        except (ValueError, KeyError, IndexError) as exc:
            facts.problems[name] = f"unexpected output ({exc}): {text[:120]!r}"
    return facts


def quote(value: str) -> str:
    """Quote a user-supplied value for the fact script (never interpolate it raw)."""
    return shlex.quote(value)


# --- sections -----------------------------------------------------------------------------

@section("os_release", "cat /etc/os-release || cat /usr/lib/os-release")
def _os_release(rc: int, text: str) -> dict[str, str]:
    if rc != 0:
        raise FactUnavailable(f"/etc/os-release unreadable: {text.strip()[:120]}")
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = shlex.split(value)[0] if value.strip() else ""
    return values


SYSCTL_KEYS = ("fs.file-max", "vm.max_map_count")


@section("sysctl", " ; ".join(f"printf '%s=' {k}; cat /proc/sys/{k.replace('.', '/')} "
                              "2>/dev/null || echo" for k in SYSCTL_KEYS))
def _sysctl(rc: int, text: str) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in SYSCTL_KEYS:
            values[key] = int(value.split()[0]) if value.strip() else None
    return values


@section("sysctl_persisted", "grep -s -H '' /etc/sysctl.conf /etc/sysctl.d/*.conf; true")
def _sysctl_persisted(rc: int, text: str) -> dict[str, tuple[str, str]]:
    """``{key: (value, "file")}`` for settings persisted in sysctl files (last one wins)."""
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        file, _, content = line.partition(":")
        key, sep, value = content.partition("=")
        if sep and not content.lstrip().startswith(("#", ";")):
            found[key.strip()] = (value.strip(), file)
    return found


@section("ulimit_nofile", "ulimit -S -n; ulimit -H -n")
def _ulimit(rc: int, text: str) -> dict[str, int | None]:
    soft, hard = text.split()[:2]

    def num(v: str) -> int | None:  # None = unlimited
        return None if v == "unlimited" else int(v)
    return {"soft": num(soft), "hard": num(hard)}
