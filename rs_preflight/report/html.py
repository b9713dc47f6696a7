"""The HTML report: one self-contained page rendered from the JSON results.

``render_html(doc)`` is pure (the same document gives the same text) and its template
autoescapes everything (Jinja2), so a value read from a host can never become markup. The page
has inline CSS and a few lines of inline vanilla JS for the filters, makes no request (its
Content-Security-Policy allows none), and works from a file attached to a ticket:

- a header: site, phase, profile, time, verdict and the gate policy;
- a host × requirement matrix coloured by outcome; each cell links to its result;
- one card per result — gate failures first — with what was found, what is required, the
  guide's section, the remediation, the evidence, the waiver and the baseline status;
- waivers (active, expired, unused, unmatched) and the baseline comparison;
- filters by outcome, area and host.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

from rs_preflight.report.counts import CATEGORIES, category, counts, word
from rs_preflight.report.terminal import clean, groups, label
from rs_preflight.spec.results import ERROR, FAILED, OUTCOMES, PASSED, SKIPPED, WAIVED

SITE_COLUMN = "site"
SYMBOL = {PASSED: "✓", FAILED: "✗", ERROR: "!", SKIPPED: "–", WAIVED: "w"}
_ORDER = {FAILED: 1, ERROR: 2, WAIVED: 3, SKIPPED: 4, PASSED: 5}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("rs_preflight.report", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    keep_trailing_newline=True)


def _when(iso: str | None) -> str:
    """``2026-11-30T08:19:51.047789+00:00`` → ``2026-11-30 08:19:51 UTC`` (a person reads it)."""
    if not iso:
        return ""
    try:
        moment = dt.datetime.fromisoformat(iso).astimezone(dt.UTC)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


_ENV.filters["when"] = _when
_ENV.filters["clean"] = clean
_ENV.filters["label"] = label


def _css_class(r: Mapping[str, Any]) -> str:
    """The colour of a result: a failure that does not fail the gate is amber, not red."""
    if r["outcome"] in (FAILED, ERROR) and not r.get("gating", True):
        return f"o-{r['outcome']} soft"
    return f"o-{r['outcome']}"


def _view(doc: Mapping[str, Any]) -> dict[str, Any]:
    results = [dict(r, column=r.get("host") or SITE_COLUMN, anchor=f"r{i}",
                    css=_css_class(r), symbol=SYMBOL.get(r["outcome"], "?"),
                    category=category(r), word=word(r),
                    open=category(r) in ("failed", "error", "warned", "waived"))
               for i, r in enumerate(doc.get("results", []))]
    hosts = sorted({r["column"] for r in results if r["column"] != SITE_COLUMN})
    if any(r["column"] == SITE_COLUMN for r in results):
        hosts.insert(0, SITE_COLUMN)
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r["requirement"], {
            "requirement": r["requirement"], "title": r.get("title", ""),
            "area": r.get("area", ""), "section": r.get("guide_section", ""), "cells": {}})
        row["cells"][r["column"]] = r
    cards = sorted(results, key=lambda r: (not r.get("gating"), _ORDER.get(r["outcome"], 9),
                                           r["requirement"], r["column"]))
    return {"doc": doc, "hosts": hosts, "rows": list(rows.values()), "cards": cards,
            "counts": doc.get("counts") or counts(results), "outcomes": OUTCOMES,
            "categories": CATEGORIES, "problems": _problems(results),
            "host_table": _host_table(doc, hosts),
            "gate": doc.get("gate") or "passed",
            "areas": sorted({r.get("area", "") for r in results}),
            "gating": [r for r in cards if r.get("gating")],
            "waivers": doc.get("waivers") or [], "baseline": doc.get("baseline"),
            "policy": doc.get("gate_policy") or {}}


def _problems(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What is wrong, once per requirement and finding, with the hosts it was found on."""
    out = []
    for first, hosts in groups(list(results)):
        members = [r for r in results if r["requirement"] == first["requirement"]
                   and r["column"] in hosts and r["word"] == first["word"]
                   and r.get("message") == first.get("message")]
        out.append({"first": first, "hosts": [(r["column"], r["anchor"]) for r in members]})
    return out


def _host_table(doc: Mapping[str, Any], columns: list[str]) -> list[dict[str, Any]]:
    """One row per host of the JSON ``hosts`` (address, OS, reachable, round trips)."""
    info: Mapping[str, Mapping[str, Any]] = doc.get("hosts") or {}
    names = [h for h in columns if h != SITE_COLUMN] + sorted(set(info) - set(columns))
    rows = []
    for name in names:
        h = info.get(name, {})
        reachable = h.get("reachable")
        rows.append({"name": name, "address": h.get("address") or "",
                     "roles": ", ".join(h.get("roles") or []), "os": h.get("os") or "",
                     "reachable": ("yes" if reachable else "no" if reachable is False else
                                   "network only" if h.get("connection") == "none" else "–"),
                     "error": h.get("error") or "",
                     "round_trips": h.get("round_trips") if reachable else None,
                     "gather_s": h.get("gather_s")})
    return rows


def render_html(doc: Mapping[str, Any]) -> str:
    """The report page of a finalized results document (``report.finalize``)."""
    return _ENV.get_template("report.html.j2").render(**_view(doc))
