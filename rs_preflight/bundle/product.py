"""What the bundle collects for the product a catalogue describes (its ``bundle:`` section):
what that product's support asks to be sent — for Altcraft (seeds/003, 4.4) the version of
every executable, the log files, and per process the limits, descriptors and TCP states.

.. code-block:: yaml

    bundle:
      roles: [platform]                 # the hosts it is collected on
      basedir: /opt/akd                 # {basedir} in the entries below
      versions: {list: ["{basedir}/akd", --processes],
                 each: ["{basedir}/ak/bin/{process}", --version]}
      files: ["{basedir}/logs/*.log", /var/log/syslog]   # the last --log-lines of each
      processes: {prefix: "AK:"}        # per process whose argv[0] starts so

Member names are fixed here (``product/versions.txt``, ``product/logs-<n>.txt``,
``processes/product.txt``), never taken from the host. Every word of a command is quoted;
a process name ``list`` printed is used only when it is a plain word; file patterns may hold
only path and glob characters (checked when the catalogue is read:
``spec.catalogue.bundle_problems``). Running ``<exe> --version``
is the one thing here that executes the product's own programs (README, "Side effects").
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rs_preflight.bundle.items import Item, per_process
from rs_preflight.spec.catalogue import MAX_BUNDLE_FILES, bundle_problems


@dataclass(frozen=True)
class Diagnostics:
    roles: tuple[str, ...]
    basedir: str = ""
    list_cmd: tuple[str, ...] = ()
    each_cmd: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()


def diagnostics(raw: Mapping[str, Any] | None) -> Diagnostics | None:
    """The catalogue's ``bundle:`` section as ``Diagnostics`` (None without one)."""
    if not raw:
        return None
    if bundle_problems(raw):
        raise ValueError("; ".join(bundle_problems(raw)))
    versions = raw.get("versions") or {}
    procs = raw.get("processes") or {}
    prefix = procs.get("prefix")
    return Diagnostics(
        roles=tuple(raw.get("roles") or ()), basedir=str(raw.get("basedir", "")),
        list_cmd=tuple(str(w) for w in versions.get("list") or ()),
        each_cmd=tuple(str(w) for w in versions.get("each") or ()),
        files=tuple(str(f) for f in raw.get("files") or ()),
        prefixes=tuple([prefix] if isinstance(prefix, str) else prefix or ()))


def _word(word: str, basedir: str) -> str:
    """One word of a command: ``{basedir}`` filled in, ``{process}`` left to the shell's
    ``$n``, everything else quoted."""
    parts = word.replace("{basedir}", basedir).split("{process}")
    return '"$n"'.join(shlex.quote(p) if p else "" for p in parts) or "''"


def _argv(words: Sequence[str], basedir: str) -> str:
    return " ".join(_word(w, basedir) for w in words)


def product_items(d: Diagnostics, log_lines: int) -> list[Item]:
    """The bundle items of the product's diagnostics (fixed member names); the last
    ``log_lines`` lines of each log file."""
    out = []
    if d.list_cmd and d.each_cmd:
        out.append(Item(
            "product/versions.txt",
            f"for n in $({_argv(d.list_cmd, d.basedir)} 2>/dev/null); do "
            "case $n in *[!A-Za-z0-9_.:-]*|'') continue;; esac; n=${n#AK:}; "
            f"printf '%s: ' \"$n\"; {_argv(d.each_cmd, d.basedir)} 2>&1 </dev/null | head -n 3; "
            "done",
            " ".join(d.list_cmd).replace("{basedir}", d.basedir) + ", then " +
            " ".join(d.each_cmd).replace("{basedir}", d.basedir).replace("{process}",
                                                                         "<process>") +
            " for each"))
    for i, pattern in enumerate(d.files[:MAX_BUNDLE_FILES]):
        glob = pattern.replace("{basedir}", d.basedir)
        out.append(Item(
            f"product/logs-{i + 1}.txt",
            f"for f in {glob}; do [ -f \"$f\" ] || continue; echo \"==> $f <==\"; "
            f"tail -n {int(log_lines)} -- \"$f\"; done", glob))
    if d.prefixes:
        words = shlex.quote("\t".join(d.prefixes))
        pids = ("ps -e -o pid=,args= | awk -v p=" + words + " 'BEGIN { n = split(p, w, "
                "\"\\t\") } { for (i = 1; i <= n; i++) if (index($2, w[i]) == 1) "
                "{ print $1; break } }'")
        out.append(Item("processes/product.txt", per_process(pids),
                        f"per process whose argv[0] starts with {', '.join(d.prefixes)}: "
                        "/proc/<pid>/{status,limits,fd} and its TCP states (ss -tanp)"))
    return out


__all__ = ["Diagnostics", "diagnostics", "product_items"]
