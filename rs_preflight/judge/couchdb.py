"""Judges of CouchDB on a pair of database servers (seeds/001, "Базы данных"): the server is
CouchDB at the catalogue's version, and the two replicate both ways, continuously, none failing.

>>> version({"couchdb": "Welcome", "version": "3.3.3"}, "[fd00::901]:5984", "2.1").outcome
'passed'
>>> version({"express-pouchdb": "Welcome!", "version": "4.2.0"}, "h:5984", "2.1").message
'h:5984 answers as PouchDB Server 4.2.0 (CouchDB-compatible API), not CouchDB >= 2.1'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.gather.probes.records import Replication, Replications
from rs_preflight.judge.versions import in_range, parse_version
from rs_preflight.spec.hosts import Host, host_called
from rs_preflight.spec.results import Verdict, error, failed, passed, skipped

# the servers' words for a replication that is doing its job (CouchDB's scheduler: running,
# pending — waiting for a slot —, initializing; CouchDB 1.x and PouchDB Server: triggered)
HEALTHY = ("running", "pending", "initializing", "triggered")
FAILING = ("crashing", "failed", "error")
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def version(root: Mapping[str, Any], where: str, minimum: str) -> Verdict:
    """``GET /``'s answer: CouchDB's welcome at ``minimum`` or newer."""
    want = f"CouchDB >= {minimum} at {where}"
    said = str(root.get("version") or "")
    if "couchdb" not in root:
        if "express-pouchdb" in root:
            what = f"PouchDB Server {said or '(version not said)'} (CouchDB-compatible API)"
        else:
            vendor = root.get("vendor")
            name = vendor.get("name") if isinstance(vendor, dict) else None
            keys = ", ".join(sorted(map(str, root))[:6]) or "nothing"
            what = f"{name or 'a server that is not CouchDB'} (GET / says: {keys})"
        return failed(f"{where} answers as {what}, not CouchDB >= {minimum}", want, what)
    found = f"CouchDB {said or '(version not said)'}"
    if parse_version(said) is None:
        return failed(f"{where} answers as CouchDB but gives no version number ({said!r})",
                      want, found)
    if not in_range(said, {"min": minimum}):
        return failed(f"{where}: CouchDB {said} is older than {minimum}", want, found)
    return passed(f"{where}: CouchDB {said}", want, found)


def _holder_of(end: str | None, holder: Host, hosts: Sequence[Host]) -> Host | None:
    """The site host a replication's source or target is on (None: another machine)."""
    if end is None or end in LOOPBACK:
        return holder
    return host_called(end, hosts)


def _describe(rep: Replication, holder: Host) -> str:
    text = f"{rep.doc_id} on {holder.name} ({rep.source} → {rep.target}): {rep.state}"
    if rep.continuous is False:
        text += ", one-shot"
    return text + (f": {rep.error}" if rep.error else "")


def replication(hosts: Sequence[Host], seen: Mapping[str, Replications | str]) -> Verdict:
    """Each ordered pair of ``hosts`` (A → B and B → A) has a continuous replication from a
    database on A to one on B that is not failing (defined on either server: push or pull);
    no replication of theirs is failing. ``seen``: each host's replications, or why they could
    not be read."""
    if len(hosts) < 2:
        return skipped(f"the role has {len(hosts)} host(s): no pair to replicate between")
    down = [f"{h.name}: {seen[h.name]}" for h in hosts if isinstance(seen.get(h.name), str)]
    if down:
        return error(f"cannot read the replications of {'; '.join(down)}")
    ways: dict[tuple[str, str], list[tuple[Replication, Host]]] = {}
    failing: list[str] = []
    for holder in hosts:
        got = seen[holder.name]
        assert isinstance(got, Replications)
        for rep in got.items:
            src = _holder_of(rep.source_host, holder, hosts)
            dst = _holder_of(rep.target_host, holder, hosts)
            if rep.state in FAILING:
                failing.append(_describe(rep, holder))
            if src is not None and dst is not None and src != dst:
                ways.setdefault((src.name, dst.name), []).append((rep, holder))
    missing, found = [], []
    for a in hosts:
        for b in hosts:
            if a == b:
                continue
            reps = ways.get((a.name, b.name), [])
            good = [r for r, _ in reps if r.continuous is not False and r.state in HEALTHY]
            if not good:
                why = "; ".join(_describe(r, h) for r, h in reps) or "no replication"
                missing.append(f"{a.name} → {b.name} ({why})")
            found.append(f"{a.name} → {b.name}: " + (", ".join(
                f"{r.doc_id} {r.state}" for r in good) or "none running"))
    want = (f"a continuous replication each way between {', '.join(h.name for h in hosts)}, "
            "none failing")
    parts = ([f"missing: {'; '.join(missing)}"] if missing else []) + \
        ([f"failing: {'; '.join(failing)}"] if failing else [])
    if parts:
        return failed("CouchDB replication " + " — ".join(parts), want, "; ".join(found))
    vias = sorted({seen_via(seen[h.name]) for h in hosts})
    return passed(f"replicating both ways ({'; '.join(found)}; read from {', '.join(vias)})",
                  want, "; ".join(found))


def seen_via(got: Replications | str) -> str:
    return got.via if isinstance(got, Replications) else "?"


__all__ = ["FAILING", "HEALTHY", "replication", "version"]
