"""The check model: what a check declares and what it is handed when it runs.

A check is a function in ``checks/`` marked with the kind it verifies (``data/kinds.yaml``);
it receives an ``rs`` target (one requirement of that kind on one host, or on the site) and
returns a ``Verdict``::

    @pytest.mark.kind("os_supported")
    def test_supported_os(rs: Target) -> Verdict:
        return judge.os_supported(rs.facts.get("os_release"), rs.params["supported"])

Roles, phases and params come from the catalogue: the plugin runs the check once per
requirement of its kind and host holding one of the requirement's roles, skips it (saying
why) outside its phases, and turns the verdict into passed / failed / error / skipped /
waived. (``@pytest.mark.rs("RS-OS-01")`` still works, deprecated: the kind of that shipped
requirement.)

What the run shares (facts, the probe results, connections) is its :class:`RunState`
(``rs.state``, :mod:`rs_preflight.gather.state`): a check asks it, calls a judge, returns the
verdict.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rs_preflight.gather.facts import HostFacts
from rs_preflight.gather.state import RunState
from rs_preflight.spec.catalogue import Requirement
from rs_preflight.spec.envfile import EnvValue
from rs_preflight.spec.site import Host, Site, Waiver


class FactsView:
    """One check's window on a host's facts: remembers which sections it read (its evidence)."""

    def __init__(self, facts: HostFacts) -> None:
        self._facts = facts
        self.read: list[str] = []

    def get(self, name: str) -> Any:
        if name not in self.read:
            self.read.append(name)
        return self._facts.get(name)

    def evidence(self, redact: Callable[[str], str] = str) -> str | None:
        return self._facts.evidence(self.read, redact=redact) or None


@dataclass
class Target:
    """What a check receives: one requirement on one host (or on the site)."""

    requirement: Requirement
    site: Site
    state: RunState
    host: Host | None = None
    _view: FactsView | None = field(default=None, init=False, repr=False)

    @property
    def phase(self) -> str:
        return self.site.phase

    @property
    def severity(self) -> str:
        return self.requirement.severity_for(self.phase)

    @property
    def params(self) -> Mapping[str, Any]:
        """The requirement's parameters (its kind's, from the catalogue)."""
        return self.requirement.params

    @property
    def thresholds(self) -> Mapping[str, Any]:
        """Deprecated name of ``params``."""
        return self.requirement.params

    @property
    def facts(self) -> FactsView:
        assert self.host is not None, f"{self.requirement.id} is a site-level check"
        if self._view is None:
            self._view = FactsView(self.state.facts(self.host))
        return self._view

    def evidence(self) -> str | None:
        """The commands this check's facts came from and their output (None if it read none)."""
        return self._view.evidence(self.site.redactor) if self._view is not None else None

    @property
    def pre_note(self) -> str:
        """Said with a low value before installation, when the installer will set it (§9.4)."""
        if self.phase == "pre" and self.severity == "warning":
            return " (the deployment scripts raise it during installation, guide §9.4)"
        return ""

    def settings(self, role: str | None = None) -> dict[str, EnvValue]:
        return self.site.settings.for_role(role)

    def setting(self, param: str) -> str | None:
        """The value of the site setting that the parameter ``param`` names (``user_setting:
        COUCHDB_USER`` → COUCHDB_USER's value), or None when either is not given."""
        name = self.params.get(param)
        value = self.settings().get(str(name)) if name else None
        return value.value if value is not None else None

    def waiver(self, today: dt.date | None = None) -> tuple[Waiver | None, bool]:
        """The waiver covering this target and whether it is still valid today."""
        found = self.site.waiver_for(self.requirement.id, self.host.name if self.host else None)
        if found is None:
            return None, False
        return found, not found.expired(today or dt.date.today())

    def applicability(self) -> str | None:
        """Why this check does not apply here, or None when it does."""
        if self.phase not in self.requirement.phases:
            return (f"{self.requirement.id} applies in phase "
                    f"{'/'.join(self.requirement.phases)} only (this run: {self.phase})")
        if self.host is not None and not self.host.reachable:
            return f"{self.host.name} is checked over the network only (ssh: false)"
        return None


def elapsed(start: float) -> float:
    return round(time.monotonic() - start, 4)
