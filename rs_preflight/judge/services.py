"""Judges of a data service as its clients see it (seeds/003's service table, seeds/004's
components): it answers its own protocol — not answering is the failure the documents alert
on ("Невозможно установить TCP соединение") — at a version within the catalogue's range, with
the extensions the product needs.

>>> answered("amqp", "h:5672", "3.10.8", "RabbitMQ answered Connection.Start",
...          {"min": "3.10", "below": "5"}).outcome
'passed'
>>> not_answered("mongodb", "127.0.0.1:27017 on ak1", "Connection refused").outcome
'failed'
"""

from __future__ import annotations

from collections.abc import Mapping

from rs_preflight.judge.versions import in_range, range_text
from rs_preflight.spec.results import Verdict, error, failed, passed

NAMES = {"mongodb": "MongoDB", "redis": "Redis", "ssdb": "SSDB", "amqp": "AMQP (RabbitMQ)",
         "postgresql": "PostgreSQL"}


def _want(protocol: str, where: str, version: Mapping[str, str] | None) -> str:
    text = f"{NAMES.get(protocol, protocol)} answering at {where}"
    return text + (f", version {range_text(version)}" if version else "")


def answered(protocol: str, where: str, found_version: str | None, detail: str,
             version: Mapping[str, str] | None = None) -> Verdict:
    """The service answered its protocol; with ``version`` ({min, below}) its version must be
    in that range (a service that does not say its version cannot be judged: error)."""
    want = _want(protocol, where, version)
    found = f"{detail}, version {found_version or 'not said'}"
    if not version:
        return passed(f"{where}: {detail}", want, found)
    if found_version is None:
        return error(f"{where}: {detail}, but it did not say its version (a login may be "
                     "needed: give the credentials in the site's settings)")
    if not in_range(found_version, version):
        return failed(f"{where}: {NAMES.get(protocol, protocol)} {found_version} is outside "
                      f"{range_text(version)}", want, found)
    return passed(f"{where}: {NAMES.get(protocol, protocol)} {found_version}", want, found)


def not_answered(protocol: str, where: str, why: str,
                 version: Mapping[str, str] | None = None) -> Verdict:
    """No answer in the protocol (refused, timed out, another protocol): failed."""
    return failed(f"{NAMES.get(protocol, protocol)} does not answer at {where}: {why}",
                  _want(protocol, where, version), why)


def extensions_available(found: Mapping[str, str | None], where: str) -> Verdict:
    """Each extension is in ``pg_available_extensions`` (CREATE EXTENSION would succeed)."""
    want = f"available: {', '.join(found)}"
    missing = [name for name, ver in found.items() if ver is None]
    seen = ", ".join(f"{n} {v}" for n, v in found.items() if v) or "none of them"
    if missing:
        return failed(f"PostgreSQL at {where} cannot create {', '.join(missing)} (not in "
                      "pg_available_extensions)", want, f"available: {seen}")
    return passed(f"PostgreSQL at {where} has {seen}", want, f"available: {seen}")



def queue_depths(bounds: list[tuple[str, str, int]],
                 found: Mapping[str, Mapping[str, int]]) -> Verdict:
    """Each queue (``vhost``, a name or a ``prefix*``, bound) holds at most ``bound``
    messages now (``found``: vhost → {queue: messages})."""
    over, seen = [], []
    for vhost, queue, bound in bounds:
        queues = found.get(vhost, {})
        hits = ({n: m for n, m in queues.items() if n.startswith(queue[:-1])}
                if queue.endswith("*") else {n: m for n, m in queues.items() if n == queue})
        for name, messages in sorted(hits.items()):
            seen.append(f"{vhost}{name} {messages}")
            if messages >= bound:
                over.append(f"{vhost}{name}: {messages} >= {bound}")
    want = "; ".join(f"{v}{q} < {b}" for v, q, b in bounds)
    found_text = ", ".join(seen) or "none of the queues exists"
    if over:
        return failed(f"queues backed up: {'; '.join(over)}", want, found_text)
    return passed(f"queues within bounds: {found_text}", want, found_text)



def units_active(states: Mapping[str, str], units: list[str]) -> Verdict:
    """Each systemd unit is ``active`` (``systemctl is-active``)."""
    found = ", ".join(f"{u} {states.get(u, 'unknown')}" for u in units)
    down = [f"{u} ({states.get(u, 'unknown')})" for u in units if states.get(u) != "active"]
    want = f"active: {', '.join(units)}"
    if down:
        return failed(f"not active: {', '.join(down)}", want, found)
    return passed(f"all {len(units)} unit(s) active", want, found)


__all__ = ["answered", "extensions_available", "not_answered", "queue_depths",
           "units_active"]
