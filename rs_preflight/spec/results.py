"""The one result type every renderer reads: a verdict from a judge, a record per (check, host).

Outcomes mean one thing each:
``passed``; ``failed`` (checked and wrong: expected vs found); ``error`` (could not check: why);
``skipped`` (does not apply: why); ``waived`` (failed, but accepted by a named, unexpired waiver).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASSED, FAILED, ERROR, SKIPPED, WAIVED = "passed", "failed", "error", "skipped", "waived"
OUTCOMES = (PASSED, FAILED, ERROR, SKIPPED, WAIVED)
SEVERITY_ORDER = ("blocker", "warning", "info")


@dataclass(frozen=True)
class Verdict:
    """What a judge decided. Build with ``passed``/``failed``/``error``/``skipped``.

    ``severity`` overrides the catalogue's for this verdict only, where one requirement has
    parts of different weight (RS-TLS-03: expired is a blocker, expiring soon a warning).
    """

    outcome: str
    message: str
    expected: str | None = None
    found: str | None = None
    severity: str | None = None
    evidence: str | None = None  # the command or probe and its (trimmed) output, if any

    def __str__(self) -> str:
        text = self.message
        if self.outcome == FAILED and (self.expected or self.found):
            text += f"\n  expected: {self.expected}\n  found:    {self.found}"
        return text


def passed(message: str, expected: str | None = None, found: str | None = None) -> Verdict:
    return Verdict(PASSED, message, expected, found)


def failed(message: str, expected: str | None = None, found: str | None = None,
           severity: str | None = None) -> Verdict:
    return Verdict(FAILED, message, expected, found, severity)


def error(message: str) -> Verdict:
    return Verdict(ERROR, message)


def skipped(message: str) -> Verdict:
    return Verdict(SKIPPED, message)


def worst(verdicts: list[Verdict]) -> Verdict:
    """Combine several verdicts of one check: error > failed > passed; skipped only if all are."""
    for outcome in (ERROR, FAILED, PASSED):
        hits = [v for v in verdicts if v.outcome == outcome]
        if hits:
            # the combined verdict weighs as its heaviest part (None = the catalogue's)
            severity = None if any(v.severity is None for v in hits) else \
                min((v.severity for v in hits if v.severity), key=SEVERITY_ORDER.index)
            return Verdict(outcome, "; ".join(v.message for v in hits),
                           "; ".join(v.expected for v in hits if v.expected) or None,
                           "; ".join(v.found for v in hits if v.found) or None, severity,
                           "\n".join(v.evidence for v in hits if v.evidence) or None)
    return verdicts[0] if verdicts else skipped("nothing to check")


@dataclass
class Result:
    """One record of the JSON report: one check on one host (or on the site)."""

    id: str
    requirement: str
    host: str | None
    roles: list[str]
    outcome: str
    severity: str
    phase: str
    message: str
    expected: str | None = None
    found: str | None = None
    remediation: str = ""
    guide_section: str = ""
    duration_s: float = 0.0
    title: str = ""
    waiver: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    area: str = ""
    evidence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def gate_failure(self) -> bool:
        """True when this result fails the gate: a blocker that failed or could not be checked."""
        return self.severity == "blocker" and self.outcome in (FAILED, ERROR)


FAIL_ON = ("any", "new")


@dataclass(frozen=True)
class GatePolicy:
    """Which results fail the run (the exit code; ``README.md``, ``cli.py``).

    - a *blocker* that failed, or errored (could not be checked), fails the gate;
    - a *warning* only with ``strict``; *info* never;
    - an *error* does not, with ``allow_errors``;
    - with ``fail_on="new"`` (needs a baseline) only results that were not already failing or
      erroring in the baseline count: the gate fails on regressions only.
    """

    strict: bool = False
    allow_errors: bool = False
    fail_on: str = "any"

    def effect(self, outcome: str, severity: str, baseline: str | None = None
               ) -> tuple[bool, str, str]:
        """(fails the gate, why not: kind, why not: text) for one record.

        ``baseline`` is the record's new/still/fixed, or None; the kinds are ``warning``,
        ``info``, ``allowed-error`` and ``known-failure``.
        """
        if outcome not in (FAILED, ERROR):
            return False, "", ""
        if severity == "info":
            return False, "info", "info: never fails the gate"
        if severity == "warning" and not self.strict:
            return False, "warning", "warning: fails the gate only with --strict"
        if outcome == ERROR and self.allow_errors:
            return False, "allowed-error", "could not check: allowed by --allow-errors"
        if self.fail_on == "new" and baseline == "still":
            return False, "known-failure", "already failing in the baseline (--fail-on new)"
        return True, "", ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> GatePolicy:
        """The policy saved in a results.json (``gate_policy``)."""
        raw = raw or {}
        return cls(strict=bool(raw.get("strict", False)),
                   allow_errors=bool(raw.get("allow_errors", False)),
                   fail_on=str(raw.get("fail_on", "any")))
