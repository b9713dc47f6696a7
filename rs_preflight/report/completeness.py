"""Honest completeness: which checks the run should have made, which it made, which it did not.

A run is **complete** only when every check the site, the catalogue and the phase define — one
per (requirement, host holding one of its roles), one per site-level requirement, a
``@no-host`` placeholder when no host has the roles — was collected *and* finished. Narrowing
(``-k``, ``-m``, ``--deselect``, explicit files or node ids), a run that stopped early (``-x``,
``--maxfail``) or an interrupt (Ctrl-C, SIGTERM) makes it incomplete, and the reasons say which.
The fields it adds to ``results.json`` (``schema_version`` 2; other code reads these names)::

    complete            true | false
    interrupted         true | false
    interrupted_by      "SIGTERM" | "SIGINT" | … | null
    selection           {"keyword", "markexpr", "deselect", "maxfail", "paths", "catalogue",
                         "catalogues", "defined", "selected", "finished"}
    not_run             ["RS-OS-01@app1", …]   selected but never finished
    not_selected        ["RS-MAIL-01", …]      defined but deselected or never collected
    incomplete_reasons  ["-k 'RS-OS': 120 of 138 checks were deselected", …]

``report.finalize`` turns ``complete: false`` into ``gate: incomplete`` unless a result fails
the gate; a check that was running when the run stopped is recorded as *error: interrupted*
(``runner.py``), never as passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rs_preflight.spec.catalogue import Catalogue, Requirement
from rs_preflight.spec.site import Site

SCHEMA_VERSION = 2
NO_HOST_ID = "no-host"
MAX_LISTED = 8  # ids named in a reason line; the JSON lists them all


def check_id(requirement: str, host: str | None) -> str:
    """``RS-OS-01@app1``; a site-level check is its requirement ID alone."""
    return requirement if host is None else f"{requirement}@{host}"


def targets(req: Requirement, site: Site) -> list[str | None]:
    """The hosts a requirement is checked on (None: the site; []: no host has its roles)."""
    if req.site_level:
        return [None]
    return [h.name for h in site.hosts_with(*req.roles)]


def defined_checks(catalogue: Catalogue, site: Site) -> list[str]:
    """Every check the site + catalogue + phase define, as ``check_id``s."""
    ids: list[str] = []
    for req in catalogue.values():
        if site.phase not in req.phases:
            continue
        ids += [check_id(req.id, h) for h in targets(req, site)] or [
            check_id(req.id, NO_HOST_ID)]
    return ids


def selection_of(option: Any, args: Iterable[str], explicit: bool,
                 catalogue: Catalogue) -> dict[str, Any]:
    """What narrowed the run, from pytest's parsed options (``config.option``, ``config.args``).

    ``paths`` are the files and node ids given on the command line (a folder narrows nothing
    by itself: what it lacks shows up as not collected)."""
    paths = [a for a in args if explicit and ("::" in a or Path(a).is_file())]
    return {"keyword": getattr(option, "keyword", "") or None,
            "markexpr": getattr(option, "markexpr", "") or None,
            "deselect": list(getattr(option, "deselect", None) or []),
            "maxfail": int(getattr(option, "maxfail", 0) or 0),
            "paths": paths,
            # every --rs-catalogue file, in order (r-service (shipped): the shipped one)
            "catalogue": " + ".join(catalogue.sources),
            "catalogues": list(catalogue.sources)}


def _listed(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_LISTED])
    return shown + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


@dataclass
class Progress:
    """What happened to each check of the run: selected, deselected, started, finished."""

    defined: list[str]
    selected: dict[str, str] = field(default_factory=dict)   # nodeid -> check id
    deselected: set[str] = field(default_factory=set)        # check ids
    started: dict[str, str] = field(default_factory=dict)    # nodeid -> check id
    interrupted_by: str | None = None
    stopped: str | None = None  # why pytest stopped early (-x, --maxfail), if it did
    kinds: dict[str, str] = field(default_factory=dict)  # requirement ID → its kind

    def running(self, finished: Iterable[str]) -> list[str]:
        """Node ids that started and did not finish (running when the run stopped)."""
        done = set(finished)
        return [n for n in self.started if n not in done]

    def fields(self, selection: Mapping[str, Any], finished: Iterable[str]) -> dict[str, Any]:
        """The completeness fields of ``results.json`` (see the module docstring)."""
        done = set(finished)
        chosen = set(self.selected.values())
        not_run = [cid for nid, cid in self.selected.items() if nid not in done]
        not_selected = [cid for cid in self.defined if cid not in chosen]
        reasons = self._reasons(selection, not_run, not_selected, done)
        return {"schema_version": SCHEMA_VERSION, "complete": not reasons,
                "interrupted": self.interrupted_by is not None,
                "interrupted_by": self.interrupted_by,
                "selection": {**selection, "defined": len(self.defined),
                              "selected": len(self.selected),
                              "finished": len(done & set(self.selected))},
                "not_run": not_run, "not_selected": not_selected,
                "incomplete_reasons": reasons}

    def _reasons(self, selection: Mapping[str, Any], not_run: list[str],
                 not_selected: list[str], done: set[str]) -> list[str]:
        reasons: list[str] = []
        total = len(self.defined)
        if not self.selected:
            reasons.append("no check was selected")
        deselected = [c for c in not_selected if c in self.deselected]
        if deselected:
            how = _how(selection) or "a plugin"
            reasons.append(f"{len(deselected)} of {total} checks were deselected by {how}: "
                           f"{_listed(deselected)}")
        uncollected = [c for c in not_selected if c not in self.deselected]
        if uncollected:
            kinds = sorted({k for c in uncollected
                            if (k := self.kinds.get(c.split("@")[0])) is not None})
            why = (f"only {', '.join(selection['paths'])} given" if selection.get("paths")
                   else "no collected check implements them" + (
                       f": kind {', '.join(kinds)}" if kinds else ""))
            reasons.append(f"{len(uncollected)} of {total} checks were not collected ({why}): "
                           f"{_listed(uncollected)}")
        if self.interrupted_by is not None:
            running = [self.started[n] for n in self.running(done) if n in self.selected]
            text = (f"interrupted by {self.interrupted_by}: {len(not_run)} selected check(s) "
                    "did not finish")
            if running:
                text += f" ({_listed(running)} was running: error, interrupted)"
            reasons.append(text)
        elif not_run:
            why = self.stopped or "the run stopped early"
            if selection.get("maxfail"):
                why += f"; --maxfail {selection['maxfail']}"
            reasons.append(f"{len(not_run)} selected check(s) did not run ({why}): "
                           f"{_listed(not_run)}")
        return reasons


def _how(selection: Mapping[str, Any]) -> str:
    parts = []
    if selection.get("keyword"):
        parts.append(f"-k {selection['keyword']!r}")
    if selection.get("markexpr"):
        parts.append(f"-m {selection['markexpr']!r}")
    if selection.get("deselect"):
        parts.append(f"--deselect {' '.join(selection['deselect'])}")
    return ", ".join(parts)


__all__ = ["NO_HOST_ID", "SCHEMA_VERSION", "Progress", "check_id", "defined_checks",
           "selection_of", "targets"]
