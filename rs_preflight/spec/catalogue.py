"""The requirements catalogue: what each requirement ID means, as data shipped in the package.

Checks read titles, thresholds, severities and remediation texts from here instead of
hard-coding them, so another product's profile is another catalogue file, not new code.

>>> cat = load_catalogue()
>>> cat["RS-SYSCTL-02"].thresholds["min"]
262144
>>> cat["RS-LIMIT-01"].severity_for("pre")
'warning'
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.inputs import read_text
from rs_preflight.spec.yamlsrc import load_yaml

PHASES = ("pre", "post")
SEVERITIES = ("blocker", "warning", "info")
SITE_ROLE = "site"


@dataclass(frozen=True)
class Requirement:
    """One requirement of the catalogue."""

    id: str
    title: str
    section: str
    roles: tuple[str, ...]
    phases: tuple[str, ...]
    severity: Mapping[str, str]
    remediation: str
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    # the shipped check that verifies it (named by its R-Service ID): another product's
    # requirement reuses a check kind with thresholds, roles and texts of its own
    implements: str = ""

    @property
    def check(self) -> str:
        return self.implements or self.id

    def severity_for(self, phase: str) -> str:
        return self.severity[phase]

    @property
    def site_level(self) -> bool:
        """True when the requirement is judged once for the site, not per host."""
        return self.roles == (SITE_ROLE,)


@dataclass(frozen=True)
class Catalogue(Mapping[str, Requirement]):
    """All requirements of one product, plus its sizing profiles."""

    product: str
    requirements: Mapping[str, Requirement]
    profiles: Mapping[str, Mapping[str, Mapping[str, Any]]]
    roles: tuple[str, ...]

    def __getitem__(self, key: str) -> Requirement:
        return self.requirements[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.requirements)

    def __len__(self) -> int:
        return len(self.requirements)

    def implementing(self, check: str) -> list[Requirement]:
        """The requirements of this catalogue verified by the shipped check ``check``."""
        return [r for r in self.requirements.values() if r.check == check]


def _requirement(rid: str, raw: Mapping[str, Any]) -> Requirement:
    sev = raw["severity"]
    severity = dict(sev) if isinstance(sev, Mapping) else {p: sev for p in PHASES}
    return Requirement(
        id=rid, title=raw["title"], section=str(raw["section"]),
        roles=tuple(raw["roles"]), phases=tuple(raw["phases"]), severity=severity,
        remediation=raw.get("remediation", ""), thresholds=raw.get("thresholds") or {},
        implements=raw.get("implements", ""),
    )


def parse_catalogue(raw: Mapping[str, Any]) -> Catalogue:
    reqs = {rid: _requirement(rid, body) for rid, body in raw["requirements"].items()}
    return Catalogue(product=raw["product"], requirements=reqs,
                     profiles=raw.get("profiles") or {}, roles=tuple(raw["roles"]))


_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load a catalogue file; the default is R-Service's, shipped in the package.

    A file that cannot be used (not a regular file, too large, not UTF-8, YAML that is broken
    or too expensive, not of the catalogue's shape) raises ``SiteError`` with its location."""
    if path is None:
        text = resources.files("rs_preflight").joinpath("data/catalogue.yaml").read_text("utf-8")
        # libyaml's safe loader: 0.16 → 0.016 s CPU; the shipped file needs no marks or caps
        return parse_catalogue(yaml.load(text, Loader=_SAFE_LOADER))
    doc = load_yaml(read_text(path, "catalogue"), str(path))
    if doc.problems:
        raise SiteError(doc.problems)
    shape = (KeyError, TypeError, AttributeError, ValueError)
    data = doc.data
    try:
        return parse_catalogue(data)
    except shape as exc:
        where: tuple[str, ...] = ()
        reqs = data.get("requirements") if isinstance(data, Mapping) else None
        for rid, body in reqs.items() if isinstance(reqs, Mapping) else ():
            try:
                _requirement(rid, body)
            except shape:
                where = ("requirements", str(rid))
                break
        raise SiteError([doc.problem(where, f"not a requirements catalogue: "
                                            f"{type(exc).__name__}: {exc}")]) from exc
