"""The requirements catalogue: what each requirement ID means, as data shipped in the package.

Every requirement names a check **kind** (``kinds.py``, ``data/kinds.yaml``) and the kind's
**params**, plus its own title, guide section, roles, phases, severities and remediation. The
checks are written per kind, so another product's profile — or one more requirement of an
existing kind — is a catalogue entry, not new code.

>>> cat = load_catalogue()
>>> cat["RS-SYSCTL-02"].kind, cat["RS-SYSCTL-02"].params["min"]
('sysctl', 262144)
>>> cat["RS-LIMIT-01"].severity_for("pre")
'warning'

Catalogues compose (``load_catalogues``): the first file replaces the shipped catalogue, each
later one adds requirements, replaces one by ID (the whole entry), merges profiles by name and
roles by union. The word ``r-service`` (when no file of that name exists) is the shipped one.

Deprecated, still read: ``thresholds:`` (means ``params:``) and ``implements: RS-X`` (means the
kind of the shipped requirement RS-X, and nothing else of it).

A catalogue that cannot be used raises ``SiteError`` whose problems read
``file:line: requirements.ID: message`` (the line of the key at fault).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rs_preflight.spec.errors import Problem, SiteError
from rs_preflight.spec.inputs import read_text
from rs_preflight.spec.kinds import load_kinds, unknown_kind
from rs_preflight.spec.yamlsrc import SourceDoc, dotted, load_yaml

PHASES = ("pre", "post")
SEVERITIES = ("blocker", "warning", "info")
SITE_ROLE = "site"
SHIPPED = "r-service"  # --rs-catalogue r-service: the shipped catalogue (unless a file is named so)
SHIPPED_NAME = "r-service (shipped)"
# PRODUCT-AREA-NN: the area (second part) names the marker rs_<area>; no '@' or '[' (check ids)
ID_PATTERN = re.compile(r"[A-Za-z0-9]+(-[A-Za-z0-9]+){2,}")
REQUIREMENT_KEYS = ("kind", "params", "title", "section", "roles", "phases", "severity",
                    "remediation", "thresholds", "implements")
REQUIRED_KEYS = ("title", "section", "roles", "phases", "severity")
TOP_KEYS = ("product", "guide", "roles", "requirements", "profiles", "bundle")
MAX_BUNDLE_FILES = 20
_SAFE_PATTERN = re.compile(r"[A-Za-z0-9_./@*?\[\]-]+")  # a path with glob characters only
_SAFE_BASEDIR = re.compile(r"/[A-Za-z0-9_./-]*")


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
    kind: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def thresholds(self) -> Mapping[str, Any]:
        """Deprecated name of ``params``."""
        return self.params

    def severity_for(self, phase: str) -> str:
        return self.severity[phase]

    @property
    def site_level(self) -> bool:
        """True when the requirement is judged once for the site, not per host."""
        return self.roles == (SITE_ROLE,)


@dataclass(frozen=True)
class Catalogue(Mapping[str, Requirement]):
    """All requirements of one product (or of composed files), plus its sizing profiles."""

    product: str
    requirements: Mapping[str, Requirement]
    profiles: Mapping[str, Mapping[str, Mapping[str, Any]]]
    roles: tuple[str, ...]
    sources: tuple[str, ...] = (SHIPPED_NAME,)  # the files it was loaded from, in order
    # what the support bundle collects for this product (``bundle:``; bundle/product.py)
    bundle: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Requirement:
        return self.requirements[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.requirements)

    def __len__(self) -> int:
        return len(self.requirements)

    def of_kind(self, kind: str) -> list[Requirement]:
        """The requirements of this catalogue verified by the check of ``kind``."""
        return [r for r in self.requirements.values() if r.kind == kind]


_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _shipped_doc() -> SourceDoc:
    text = resources.files("rs_preflight").joinpath("data/catalogue.yaml").read_text("utf-8")
    # libyaml's safe loader: 0.16 → 0.016 s CPU; the shipped file needs no marks or caps
    # (its problems, were there any, would say line 1: tests/unit/test_kinds.py loads it
    # with lines)
    return SourceDoc(file="rs_preflight/data/catalogue.yaml",
                     data=yaml.load(text, Loader=_SAFE_LOADER))


def shipped() -> Catalogue:
    """R-Service's catalogue, shipped in the package (loaded once: ``load_catalogues``)."""
    return load_catalogues(())


def load_catalogue(path: Path | None = None) -> Catalogue:
    """One catalogue file; the default is R-Service's, shipped in the package."""
    return load_catalogues((path,) if path is not None else ())


def is_shipped(path: Path | str) -> bool:
    """Whether ``path`` names the shipped catalogue: the word ``r-service``, no such file."""
    return str(path) == SHIPPED and not Path(path).exists()


def load_catalogues(paths: Sequence[Path | str] = ()) -> Catalogue:
    """Compose the catalogue of ``paths`` (none: the shipped one). See the module docstring.

    Every problem of every file is collected, then raised as one ``SiteError``: a file that
    cannot be used (not a regular file, too large, not UTF-8, broken or too expensive YAML),
    a catalogue of the wrong shape, an unknown kind, params the kind does not accept.
    Loaded once per process and list of files (problems name each file as it was given)."""
    return _load(tuple((str(p), None if is_shipped(p) else str(Path(p).resolve()))
                       for p in paths or (SHIPPED,)))


def bundle_problems(raw: Mapping[str, Any]) -> list[str]:
    """What is wrong with a catalogue's ``bundle:`` section (bundle/product.py): its paths
    reach the hosts' shell, so only plain path and glob characters (empty when usable)."""
    out = []
    basedir = str(raw.get("basedir", ""))
    if basedir and not _SAFE_BASEDIR.fullmatch(basedir):
        out.append(f"bundle.basedir {basedir!r} is not an absolute path of plain characters")
    files = raw.get("files") or []
    if not isinstance(files, list) or len(files) > MAX_BUNDLE_FILES:
        out.append(f"bundle.files: a list of at most {MAX_BUNDLE_FILES} patterns")
        files = []
    for pattern in files:
        if not _SAFE_PATTERN.fullmatch(str(pattern).replace("{basedir}", basedir or "/")):
            out.append(f"bundle.files: {pattern!r} holds characters other than a path's and "
                       "a glob's")
    return out


@functools.cache
def _load(files: tuple[tuple[str, str | None], ...]) -> Catalogue:
    """``files``: (the name as given, its resolved path or None for the shipped one)."""
    docs: list[SourceDoc] = []
    problems: list[Problem] = []
    for given, resolved in files:
        if resolved is None:
            docs.append(_shipped_doc())
            continue
        doc = load_yaml(read_text(Path(given), "catalogue"), given)
        problems.extend(doc.problems)
        if not doc.problems:
            docs.append(doc)
    if problems:
        raise SiteError(problems)
    builder = _Builder()
    for i, doc in enumerate(docs):
        builder.add(doc, first=i == 0)
    return builder.result()


class _Builder:
    """Reads catalogue documents one after the other, composing them; collects problems."""

    def __init__(self) -> None:
        self.products: list[str] = []
        self.roles: list[str] = []
        self.requirements: dict[str, Requirement] = {}
        self.origin: dict[str, SourceDoc] = {}  # where each requirement was defined
        self.profiles: dict[str, Mapping[str, Mapping[str, Any]]] = {}
        self.sources: list[str] = []
        self.bundle: Mapping[str, Any] = {}
        self.problems: list[Problem] = []

    def add(self, doc: SourceDoc, first: bool) -> None:
        data = doc.data
        self.sources.append(SHIPPED_NAME if doc is _shipped_doc() else doc.file)
        if not isinstance(data, Mapping):
            self.problems.append(doc.problem((), "not a requirements catalogue: expected a "
                                                 "mapping with product, roles, requirements"))
            return
        for key in data:
            if key not in TOP_KEYS:
                self.problems.append(doc.problem((str(key),), f"unknown key (allowed: "
                                                              f"{', '.join(TOP_KEYS)})"))
        for key in ("product", "roles", "requirements") if first else ("requirements",):
            if key not in data:
                self.problems.append(doc.problem((), f"{key!r} is required"))
        product = data.get("product")
        if product is not None:
            if isinstance(product, str) and product.strip():
                if product not in self.products:
                    self.products.append(product)
            else:
                self.problems.append(doc.problem(("product",), "expected the product's name"))
        roles = data.get("roles", [])
        if not _names(roles):
            self.problems.append(doc.problem(("roles",), "expected a list of role names"))
        else:
            self.roles += [r for r in roles if r not in self.roles]
        profiles = data.get("profiles") or {}
        if not isinstance(profiles, Mapping) or not all(
                isinstance(p, Mapping) and all(isinstance(v, Mapping) for v in p.values())
                for p in profiles.values()):
            self.problems.append(doc.problem(("profiles",), "expected profiles: {name: {role: "
                                                            "{cpu, ram_gb, disks_gb, count}}}"))
        else:
            self.profiles.update(profiles)
        bundle = data.get("bundle")
        if bundle is not None:  # a later file's replaces an earlier one's
            why = bundle_problems(bundle) if isinstance(bundle, Mapping) else \
                ["expected a mapping (roles, basedir, versions, files, processes)"]
            self.problems += [doc.problem(("bundle",), w) for w in why]
            if not why:
                self.bundle = bundle
        reqs = data.get("requirements")
        if reqs is not None and not isinstance(reqs, Mapping):
            self.problems.append(doc.problem(("requirements",), "expected a mapping of "
                                                                "requirement IDs"))
            return
        for rid, body in (reqs or {}).items():
            req = self._requirement(doc, str(rid), body)
            if req is not None:
                self.requirements[req.id] = req  # a later file replaces the whole entry
                self.origin[req.id] = doc

    def result(self) -> Catalogue:
        for rid, req in self.requirements.items():
            unknown = [r for r in req.roles if r not in self.roles and r != SITE_ROLE]
            if unknown:
                self.problems.append(_at(self.origin[rid], rid, ("roles",),
                                         f"roles: {', '.join(map(repr, unknown))} not among "
                                         f"the catalogue's roles ({', '.join(self.roles)})"))
        if self.problems:
            raise SiteError(self.problems)
        return Catalogue(product=" + ".join(self.products), requirements=self.requirements,
                         profiles=self.profiles, roles=tuple(self.roles),
                         sources=tuple(self.sources), bundle=self.bundle)

    def _requirement(self, doc: SourceDoc, rid: str, body: Any) -> Requirement | None:
        """The requirement, or None (its problems collected) when it cannot be used."""
        before = len(self.problems)

        def problem(key: tuple[str | int, ...], message: str) -> None:
            self.problems.append(_at(doc, rid, key, message))

        if not ID_PATTERN.fullmatch(rid):
            problem((), "a requirement ID is PRODUCT-AREA-NN: letters and digits in three or "
                        "more parts joined by '-' (e.g. XT-SYSCTL-01)")
        if not isinstance(body, Mapping):
            problem((), "expected a mapping (kind, params, title, section, roles, phases, "
                        "severity, remediation)")
            return None
        for key in body:
            if key not in REQUIREMENT_KEYS:
                problem((str(key),), f"unknown key {key!r} (allowed: "
                                     f"{', '.join(REQUIREMENT_KEYS)})")
        for key in REQUIRED_KEYS:
            if key not in body:
                problem((), f"{key!r} is required")
        title, section = body.get("title"), body.get("section")
        if "title" in body and not (isinstance(title, str) and title.strip()):
            problem(("title",), "title: expected text")
        if "section" in body and not isinstance(section, str | int | float):
            problem(("section",), "section: expected the guide's section (text)")
        roles = body.get("roles", [])
        if not _names(roles) or not roles:
            problem(("roles",), f"roles: expected a list of role names, or [{SITE_ROLE}]")
            roles = []
        phases = body.get("phases", [])
        if not isinstance(phases, list) or not phases or any(p not in PHASES for p in phases):
            problem(("phases",), f"phases: expected a list of {', '.join(PHASES)}")
            phases = []
        severity = self._severity(body.get("severity"))
        if severity is None and "severity" in body:
            problem(("severity",), f"severity: expected one of {', '.join(SEVERITIES)}, or "
                                   f"{{pre: …, post: …}}")
        remediation = body.get("remediation", "")
        if not isinstance(remediation, str):
            problem(("remediation",), "remediation: expected text")
        kind, params = self._kind_and_params(doc, rid, body, problem)
        if kind is not None:
            scope = load_kinds()[kind].scope
            if scope == "site" and roles and tuple(roles) != (SITE_ROLE,):
                problem(("roles",), f"roles: kind {kind!r} is judged once for the site: "
                                    f"roles must be [{SITE_ROLE}]")
            if scope == "host" and SITE_ROLE in roles:
                problem(("roles",), f"roles: kind {kind!r} is judged per host: name the "
                                    f"host roles it applies to, not {SITE_ROLE}")
        if len(self.problems) > before or kind is None or severity is None:
            return None
        return Requirement(id=rid, title=str(title), section=str(section),
                           roles=tuple(roles), phases=tuple(phases), severity=severity,
                           remediation=remediation, kind=kind, params=params)

    @staticmethod
    def _severity(raw: Any) -> dict[str, str] | None:
        if isinstance(raw, str) and raw in SEVERITIES:
            return {p: raw for p in PHASES}
        if isinstance(raw, Mapping) and set(raw) == set(PHASES) and all(
                v in SEVERITIES for v in raw.values()):
            return {str(k): str(v) for k, v in raw.items()}
        return None

    def _kind_and_params(self, doc: SourceDoc, rid: str, body: Mapping[str, Any],
                         problem: Any) -> tuple[str | None, Mapping[str, Any]]:
        kinds = load_kinds()
        if "params" in body and "thresholds" in body:
            problem(("thresholds",), "give params or thresholds (its old name), not both")
        key = "params" if "params" in body or "thresholds" not in body else "thresholds"
        params = body.get(key)
        params = {} if params is None else params
        if "kind" in body and "implements" in body:
            problem(("implements",), "give kind or implements (deprecated), not both")
            return None, params
        if "implements" in body:
            target = body["implements"]
            base = shipped().get(target) if isinstance(target, str) else None
            if base is None:
                problem(("implements",), f"implements {target!r}: no such requirement in the "
                                         f"shipped catalogue (give kind: instead)")
                return None, params
            kind = base.kind
        elif "kind" in body:
            kind = body["kind"]
            if kind not in kinds:
                problem(("kind",), unknown_kind(kind))
                return None, params
        else:
            problem((), "no kind: say which check verifies it (kind: NAME; the kinds: "
                        "rs-preflight requirements --kinds)")
            return None, params
        if not isinstance(params, Mapping):
            problem((key,), f"{key}: expected a mapping of the kind's parameters "
                            f"({kinds[kind].summary()})")
            return kind, {}
        # the shipped file's params are validated by its test (tests/test_catalogues.py loads
        # it as a user's file): not again at every start-up (about 10 ms of CPU)
        trusted = doc is _shipped_doc()
        for path, message in () if trusted else kinds[kind].problems(params):
            where = dotted((key, *path))
            problem((key, *path), f"{where}: {message} (kind {kind!r}: "
                                  f"{kinds[kind].summary()})")
        return kind, params


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _at(doc: SourceDoc, rid: str, key: tuple[str | int, ...], message: str) -> Problem:
    """``file:line: requirements.ID: message``, the line of ``key`` inside the requirement."""
    return Problem(doc.file, doc.line_of(("requirements", rid, *key)),
                   dotted(("requirements", rid)), message)


def catalogue_paths(option: Iterable[Path | str] | Path | str | None) -> tuple[Path, ...]:
    """``--rs-catalogue`` as given (None, one value, or the list of a repeated option)."""
    if option is None:
        return ()
    if isinstance(option, str | Path):
        return (Path(option),)
    return tuple(Path(p) for p in option)


__all__ = ["PHASES", "SEVERITIES", "SHIPPED", "SITE_ROLE", "Catalogue", "Requirement",
           "catalogue_paths", "is_shipped", "load_catalogue", "load_catalogues", "shipped"]
