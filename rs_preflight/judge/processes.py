"""Judges of a host's processes: every process of a product's list runs, matched the way
its document matches them (Altcraft's ``AK:*`` by argv[0], as its psutil script does).

A wanted entry is a name, or a list of names that count as one (a document that spells a
process two ways: either spelling runs it).

>>> procs = [("akd", "AK:api --port 1"), ("sshd", "sshd: /usr/sbin/sshd")]
>>> processes_running(procs, ["AK:api", ["AK:procsmssev", "AK:proccsmsev"]], "argv0").message
'1 of 2 process(es) not running: AK:procsmssev (or AK:proccsmsev)'
"""

from __future__ import annotations

from collections.abc import Sequence

from rs_preflight.spec.results import Verdict, failed, passed

Wanted = str | Sequence[str]
MATCHES = ("argv0", "comm", "args")


def _names(entry: Wanted) -> list[str]:
    return [entry] if isinstance(entry, str) else list(entry)


def _key(comm: str, args: str, match: str) -> str:
    if match == "comm":
        return comm
    if match == "argv0":
        return args.split(" ", 1)[0] if args else comm
    return args


def _runs(name: str, keys: Sequence[str], match: str) -> bool:
    if match == "args":  # a part of the command line (beam.smp … -name whapps)
        return any(name in key for key in keys)
    return name in keys


def processes_running(processes: Sequence[tuple[str, str]], wanted: Sequence[Wanted],
                      match: str = "argv0") -> Verdict:
    """Every entry of ``wanted`` has a running process (``match``: ``argv0`` the first word of
    the command line, ``comm`` the kernel's 15-character name, ``args`` a part of the command
    line); each missing one is named."""
    keys = [_key(comm, args, match) for comm, args in processes]
    missing = [entry for entry in wanted
               if not any(_runs(name, keys, match) for name in _names(entry))]
    shown = [_names(e)[0] + (f" (or {', '.join(_names(e)[1:])})" if len(_names(e)) > 1 else "")
             for e in missing]
    want = f"{len(wanted)} process(es) running ({match})"
    found = f"{len(wanted) - len(missing)} of {len(wanted)} running"
    if missing:
        return failed(f"{len(missing)} of {len(wanted)} process(es) not running: "
                      f"{', '.join(shown)}", want, f"{found}; missing: {', '.join(shown)}")
    return passed(f"all {len(wanted)} process(es) run", want, found)


__all__ = ["MATCHES", "processes_running"]
