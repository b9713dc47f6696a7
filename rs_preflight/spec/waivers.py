"""Waivers beyond the site file (``--waivers FILE``), and what each waiver did in a run.

A waivers file holds the same entries as the site's ``waivers:`` key — either a list, or a
mapping with a ``waivers:`` list — validated by the same schema, every problem reported at once
as ``file:line: key.path: message``::

    waivers:
      - {requirement: RS-OS-02, hosts: [job1], reason: "agent required by policy",
         expires: 2027-03-31, by: secops}

``waiver_report`` says, per waiver, what it did: *active* (it waived a failure), *expired*
(past its date: it waives nothing, and the failures it covers say so), *unused* (the checks it
covers ran and did not fail: it can go) or *unmatched* (no check it covers ran at all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from rs_preflight.spec.catalogue import Catalogue
from rs_preflight.spec.errors import Problem, SiteError
from rs_preflight.spec.inputs import read_text
from rs_preflight.spec.results import FAILED, WAIVED
from rs_preflight.spec.schema import site_schema
from rs_preflight.spec.site import Waiver, _explain
from rs_preflight.spec.yamlsrc import SourceDoc, load_yaml

ACTIVE, EXPIRED, UNUSED, UNMATCHED = "active", "expired", "unused", "unmatched"


def load_waivers(path: Path, catalogue: Catalogue, hosts: Iterable[str]) -> tuple[Waiver, ...]:
    """The waivers of ``path``; ``SiteError`` lists every problem (hosts must be the site's)."""
    doc = load_yaml(read_text(path, "waivers"), str(path))
    if doc.problems:
        raise SiteError(doc.problems)
    prefix: tuple[str | int, ...] = ("waivers",) if isinstance(doc.data, dict) else ()
    entries = doc.data.get("waivers") if isinstance(doc.data, dict) else doc.data
    if isinstance(doc.data, dict) and set(doc.data) - {"waivers"}:
        raise SiteError([doc.problem((k,), "unknown key (allowed: waivers)")
                         for k in sorted(set(doc.data) - {"waivers"})])
    schema = {"type": "array", "items": site_schema(catalogue)["properties"]["waivers"]["items"]}
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    shifted = _Shifted(doc, prefix)
    problems = [p for err in validator.iter_errors(entries if entries is not None else [])
                for p in _explain(shifted, err)]
    names = set(hosts)
    for i, raw in enumerate(entries if isinstance(entries, list) else []):
        for j, host in enumerate(raw.get("hosts", []) if isinstance(raw, dict) else []):
            if host not in names:
                problems.append(doc.problem((*prefix, i, "hosts", j),
                                            f"no host named {host!r} in the site"))
    if problems:
        raise SiteError(problems)
    return tuple(
        Waiver(requirement=raw["requirement"], reason=raw["reason"],
               expires=dt.date.fromisoformat(raw["expires"]), hosts=tuple(raw.get("hosts", ())),
               by=raw.get("by"), source=f"{path}:{doc.line_of((*prefix, i))}")
        for i, raw in enumerate(entries or []))


class _Shifted(SourceDoc):
    """The document seen from its waiver list: schema paths are relative to it."""

    def __init__(self, doc: SourceDoc, prefix: tuple[str | int, ...]) -> None:
        super().__init__(doc.file, doc.data, doc.lines, doc.problems)
        self.prefix = prefix

    def problem(self, path: tuple[str | int, ...], message: str) -> Problem:
        return super().problem((*self.prefix, *path), message)


def waiver_report(waivers: Sequence[Waiver], results: Iterable[Mapping[str, Any]],
                  today: dt.date) -> list[dict[str, Any]]:
    """One record per waiver: its fields, its status and the result IDs it applied to."""
    covered: dict[int, list[Mapping[str, Any]]] = {i: [] for i in range(len(waivers))}
    for result in results:
        # the first covering waiver applies (``Site.waiver_for``); later ones are shadowed
        index = next((i for i, w in enumerate(waivers)
                      if w.covers(result["requirement"], result["host"])), None)
        if index is not None:
            covered[index].append(result)
    out = []
    for i, waiver in enumerate(waivers):
        hits = covered[i]
        if waiver.expired(today):
            status = EXPIRED
            applied = [r for r in hits if r["outcome"] == FAILED]
        else:
            applied = [r for r in hits if r["outcome"] == WAIVED]
            status = ACTIVE if applied else (UNUSED if hits else UNMATCHED)
        out.append({"requirement": waiver.requirement, "hosts": list(waiver.hosts),
                    "reason": waiver.reason, "expires": waiver.expires.isoformat(),
                    "by": waiver.by, "source": waiver.source, "status": status,
                    "results": [r["id"] for r in applied],
                    "note": _NOTES[status].format(date=waiver.expires.isoformat())})
    return out


_NOTES = {
    ACTIVE: "waives the failures listed",
    EXPIRED: "expired on {date}: it waives nothing; the failures it covers fail",
    UNUSED: "the checks it covers did not fail: the waiver can be removed",
    UNMATCHED: "matched no check of this run (wrong requirement or host, or not selected)",
}
