"""Gathering a host's facts: every section in ONE remote command, cached for the run.

Each section is a fixed shell snippet (user-supplied values only ever through ``shlex.quote``)
and a parser. ``gather`` joins all sections into one ``sh -c`` script whose output is split on
a per-run random marker, so a host costs one round trip however many checks read it.

>>> facts = gather(thost, Context(site, host, needs_for(catalogue.values())))  # one SSH exec
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

from rs_preflight.spec.errors import CheckError
from rs_preflight.spec.kinds import EMPTY_NEEDS, Needs
from rs_preflight.spec.redact import clip, cut
from rs_preflight.spec.site import Host, Site

Parser = Callable[[int, str], Any]


@dataclass(frozen=True)
class Context:
    """What a section's command may depend on: the site, the host, and what the selected
    requirements need (``kinds.needs_for``: the sysctl keys, the flow tables…) — never the
    catalogue itself: a section does not know requirement IDs."""

    site: Site
    host: Host
    needs: Needs = field(default_factory=lambda: EMPTY_NEEDS)


Command = Callable[[Context], str]


@dataclass(frozen=True)
class Section:
    name: str
    command: Command
    parse: Parser
    bounded: bool = False  # limits its own time or cannot block (no timeout(1) around it)
    group: str | None = None  # once one section of a group times out, the rest are skipped


SECTIONS: dict[str, Section] = {}


def section(name: str, command: str | Command, *, bounded: bool = False,
            group: str | None = None) -> Callable[[Parser], Parser]:
    """Register a fact section: ``command`` runs on the host, the decorated function parses.

    Each command runs under ``timeout`` on the host, unless it is ``bounded``: it limits its
    own time, like the flow probes, or it cannot block — it reads kernel files (/proc, /sys)
    and local configuration only, or is a shell builtin. What talks to a daemon (docker,
    systemctl, chronyc), stats mounts (df, findmnt: a dead NFS server) or reads other
    processes' memory (ps) stays under ``timeout``. ``timeout -k 1 N sh -c`` costs two execs
    on the host per section: on a bare host that was a third of its fact script's CPU.
    Sections of one ``group`` (e.g. everything that asks the
    Docker daemon) are skipped once one of them timed out: a hung daemon costs one timeout."""
    if callable(command):
        cmd: Command = command
    else:
        text: str = command

        def cmd(_ctx: Context) -> str:
            return text

    def register(parse: Parser) -> Parser:
        SECTIONS[name] = Section(name, cmd, parse, bounded, group)
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
    raw: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # command, rc, output
    round_trips: int = 0
    seconds: float = 0.0

    def evidence(self, names: list[str], limit: int = 1500,
                 redact: Callable[[str], str] = str) -> str:
        """What the host said for ``names``: each command and its output, redacted, then
        trimmed (in that order: a secret across the cut leaves no prefix)."""
        parts = []
        for name in names:
            if name in self.raw:
                command, rc, text = self.raw[name]
                shown = cut(redact(text), limit)
                parts.append(f"$ {command}   # on {self.host}, exit {rc}\n{shown}")
        return "\n".join(parts)

    def get(self, name: str) -> Any:
        if name in self.problems:
            raise CheckError(f"could not read {name} on {self.host}: {self.problems[name]}")
        if name not in self.values:
            raise CheckError(f"fact {name!r} was not gathered on {self.host}")
        return self.values[name]


TIMED_OUT = 124  # timeout(1)'s exit code when it had to end the command
SECTION_CAP = 4 * 1024 * 1024  # bytes of one section's output that may cross the network


def cap_filter(marker: str, cap: int = SECTION_CAP) -> str:
    """A filter run on the host after the fact script: each section's output is cut after
    ``cap`` bytes and a ``CAPPED:<marker>`` line marks the cut, so a host printing megabytes
    (a huge /etc/os-release, endless command lines) costs bounded time and memory here.
    Without awk on the host the output passes whole."""
    program = (f'index($0, m " ") == 1 {{ n = 0; cut = 0; print; next }} cut {{ next }} '
               f'{{ n += length($0) + 1; if (n > {int(cap)}) {{ print "CAPPED:" m; cut = 1; '
               f'next }} print }}')
    return (f"{{ if command -v awk >/dev/null 2>&1; then awk -v m={shlex.quote(marker)} "
            f"{shlex.quote(program)}; else cat; fi; }}")


def section_timeout(ctx: Context) -> int:
    """Seconds one section may take on the host: a third of ``ssh.command_timeout``, so one
    hanging command (a ``docker`` that never answers) costs that section, not the host."""
    return max(1, int(ctx.site.ssh.command_timeout // 3))


def commands(ctx: Context, names: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Each section's command for this host, and the sections whose command could not be
    built (a need without the data it wants): those are problems, the rest still runs."""
    built: dict[str, str] = {}
    failed: dict[str, str] = {}
    for name in names:
        try:
            built[name] = SECTIONS[name].command(ctx)
        except (KeyError, ValueError, TypeError) as exc:
            failed[name] = (f"no command for this site or catalogue "
                            f"({type(exc).__name__}: {exc})")
    return built, failed


def build_script(ctx: Context, marker: str, cmds: dict[str, str]) -> str:
    limit = section_timeout(ctx)
    parts = []
    for name, cmd in cmds.items():
        sec = SECTIONS[name]
        # timeout(1) on the host ends what hangs there (closing our channel would not)
        run = f"( {cmd} )" if sec.bounded else f"timeout -k 1 {limit} sh -c {shlex.quote(cmd)}"
        if sec.group:
            hung = f"rs_hung_{sec.group}"
            run = (f"if [ -n \"${{{hung}:-}}\" ]; then (exit {TIMED_OUT}); else {run}; fi; "
                   f"rc=$?; [ $rc -eq {TIMED_OUT} ] && {hung}=1; (exit $rc)")
        parts.append(f"printf '\\n{marker} {name}\\n'; {{ {run}; }} 2>&1; "
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


def gather(thost: testinfra.host.Host, ctx: Context, names: list[str] | None = None
           ) -> HostFacts:
    """Run every section on ``host`` in one command and parse each; never raises for a section."""
    names = names or sorted(SECTIONS)
    marker = f"@@rs-{secrets.token_hex(6)}@@"
    cmds, unbuilt = commands(ctx, names)
    started = time.monotonic()
    result = thost.run("sh -c %s | " + cap_filter(marker), build_script(ctx, marker, cmds))
    facts = HostFacts(ctx.host.name, round_trips=1, seconds=time.monotonic() - started)
    facts.problems.update(unbuilt)
    raw = split_output(result.stdout, marker)
    for name in cmds:
        if name not in raw:
            facts.problems[name] = f"no output (the fact script exited {result.rc})"
            continue
        rc, text = raw[name]
        facts.raw[name] = (cmds[name], rc, text)
        if text.endswith(f"CAPPED:{marker}"):
            facts.raw[name] = (cmds[name], rc, text[:-len(marker) - 7] + "[… cut on the host]")
            facts.problems[name] = (f"its output exceeds {SECTION_CAP // (1024 * 1024)} MiB "
                                    "(cut on the host; not judged on a part)")
            continue
        if rc == TIMED_OUT:
            facts.problems[name] = (f"timed out after {section_timeout(ctx)}s on the host "
                                    "(a third of ssh.command_timeout)")
            continue
        try:
            facts.values[name] = SECTIONS[name].parse(rc, text)
        except FactUnavailable as exc:
            facts.problems[name] = str(exc)
        except (ValueError, KeyError, IndexError) as exc:
            facts.problems[name] = f"unexpected output ({exc}): {clip(text, 120)!r}"
    return facts


def quote(value: str) -> str:
    """Quote a user-supplied value for the fact script (never interpolate it raw)."""
    return shlex.quote(value)


# The sections, one module per noun; importing them registers them.
from rs_preflight.gather.facts import (  # noqa: E402, F401
    clock,
    containers,
    docker,
    hardware,
    network,
    processes,
    resources,
    system,
)
