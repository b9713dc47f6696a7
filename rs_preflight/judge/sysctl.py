"""Kind ``sysctl`` (RS-SYSCTL-*): kernel settings at run time, and where they are persisted
(guide §9.4). Pure."""

from __future__ import annotations

from collections.abc import Mapping

from rs_preflight.judge.common import at_least
from rs_preflight.spec.results import Verdict, error


def sysctl_at_least(key: str, runtime: Mapping[str, int | str | None],
                    persisted: Mapping[str, tuple[str, str]], minimum: int,
                    note: str = "") -> Verdict:
    """Kind ``sysctl``: runtime value >= minimum; say whether (and where) it is persisted."""
    if key not in runtime or runtime[key] is None:
        return error(f"{key} could not be read (/proc/sys/{key.replace('.', '/')})")
    value = runtime[key]
    if not isinstance(value, int):
        return error(f"{key} is {value!r}, not a number: it cannot be compared with {minimum}")
    where = persisted.get(key)
    persist = (f"persisted as {where[0]} in {where[1]}" if where
               else "not persisted in /etc/sysctl.conf or /etc/sysctl.d/")
    verdict = at_least(key, value, minimum, note)
    return Verdict(verdict.outcome, f"{verdict.message}; {persist}", verdict.expected,
                   verdict.found)


__all__ = ["sysctl_at_least"]
