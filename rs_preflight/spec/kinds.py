"""Check kinds as data: what each shipped check verifies, its parameters, the facts it reads.

The registry is ``data/kinds.yaml``. A catalogue requirement names a kind (``kind: sysctl``)
and gives its parameters (``params: {key: net.core.somaxconn, min: 4096}``), validated here
against the kind's JSON Schema; the check registered for the kind (``@pytest.mark.kind``)
runs once per requirement of that kind and host. The fact sections a run gathers, and what
those sections need from the catalogue (the sysctl keys, the flow tables), come from the
kinds of the selected requirements (``sections_for``, ``needs_for``): the gather layer never
names a requirement.

>>> kind = load_kinds()["sysctl"]
>>> kind.scope, kind.facts
('host', ('sysctl', 'sysctl_persisted'))
>>> kind.problems({"key": "net.core.somaxconn", "min": "many"})
[(('min',), "'many' is not of type 'integer'")]
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

if TYPE_CHECKING:
    from rs_preflight.spec.catalogue import Requirement

SCOPES = ("host", "site")
# read for every reachable host whatever is selected: the report's host table shows the OS
ALWAYS_GATHERED = ("os_release",)

Needs = Mapping[str, tuple[Any, ...]]
"""What the fact sections need from the selected requirements: need name → values (an
immutable mapping; ``needs_for``)."""

EMPTY_NEEDS: Needs = MappingProxyType({})


@dataclass(frozen=True)
class Kind:
    """One kind of check: its name, scope, parameters (a JSON Schema) and the facts it reads."""

    name: str
    scope: str
    description: str
    params: Mapping[str, Any]
    facts: tuple[str, ...] = ()
    # need name → the param (str) or params (tuple) each requirement of this kind adds to it
    needs: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    # declared, but no check ships for it yet: its requirements are reported as not collected
    planned: bool = False

    @functools.cached_property
    def _validator(self) -> jsonschema.protocols.Validator:
        return jsonschema.Draft202012Validator(
            self.params, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

    def problems(self, params: Any) -> list[tuple[tuple[str | int, ...], str]]:
        """(path inside params, message) for every way ``params`` breaks the kind's schema."""
        out = []
        for err in sorted(self._validator.iter_errors(params), key=lambda e: list(e.path)):
            path = tuple(err.absolute_path)
            if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
                known = sorted(err.schema.get("properties", {}))  # type: ignore[union-attr]
                for key in err.instance:
                    if key not in known:
                        out.append(((*path, str(key)), "unknown parameter (known: "
                                    f"{', '.join(known) or 'none'})"))
                continue
            if err.validator == "required":
                out.append((path, err.message.replace("is a required property",
                                                      "is required")))
                continue
            out.append((path, err.message))
        return out

    def summary(self) -> str:
        """The parameters in one line: ``key* (string), min* (integer)``; * = required."""
        props = self.params.get("properties") or {}
        required = set(self.params.get("required") or ())
        parts = []
        for name, spec in props.items():
            kind = spec.get("type") or ("/".join(map(str, spec["enum"]))
                                        if "enum" in spec else "any")
            kind = "/".join(kind) if isinstance(kind, list) else kind
            parts.append(f"{name}{'*' if name in required else ''} ({kind})")
        return ", ".join(parts) or "none"


@functools.cache
def load_kinds() -> Mapping[str, Kind]:
    """The kind registry shipped in the package (``data/kinds.yaml``), by name."""
    text = resources.files("rs_preflight").joinpath("data/kinds.yaml").read_text("utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    kinds: dict[str, Kind] = {}
    for name, body in raw["kinds"].items():
        needs = {need: (tuple(src) if isinstance(src, list) else str(src))
                 for need, src in (body.get("needs") or {}).items()}
        kinds[name] = Kind(name=name, scope=body["scope"], description=body["description"],
                           params=body["params"], facts=tuple(body.get("facts") or ()),
                           needs=needs, planned=bool(body.get("planned", False)))
    return MappingProxyType(kinds)


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` was probably meant to be (a typo), if one is close enough."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_kind(name: object) -> str:
    """The message for a kind that is not in the registry (with the closest one, if any)."""
    known = sorted(load_kinds())
    guess = closest(name, known) if isinstance(name, str) else None
    hint = f" / did you mean {guess!r}?" if guess else ""
    return f"unknown kind {name!r} (known: {', '.join(known)}{hint})"


def needs_for(requirements: Iterable[Requirement]) -> Needs:
    """What the fact sections need for ``requirements``: each kind's ``needs`` collects its
    parameter(s) from every requirement of the kind (in order, each value once)."""
    kinds = load_kinds()
    out: dict[str, list[Any]] = {}
    for req in requirements:
        kind = kinds.get(req.kind)
        for need, src in (kind.needs.items() if kind else ()):
            value = ({p: req.params.get(p) for p in src} if isinstance(src, tuple)
                     else req.params.get(src))
            values = out.setdefault(need, [])
            if value is not None and value not in values:
                values.append(value)
    return MappingProxyType({need: tuple(values) for need, values in out.items()})


def sections_for(kind_names: Iterable[str]) -> frozenset[str]:
    """The fact sections the kinds read, plus what every run reads (``ALWAYS_GATHERED``)."""
    kinds = load_kinds()
    names = set(ALWAYS_GATHERED)
    for name in kind_names:
        if name in kinds:
            names.update(kinds[name].facts)
    return frozenset(names)


def describe(kinds: Sequence[Kind] | None = None) -> list[dict[str, Any]]:
    """Every kind as a plain mapping (``rs-preflight requirements --kinds --format json``)."""
    return [{"kind": k.name, "scope": k.scope, "description": k.description,
             "params": dict(k.params), "facts": list(k.facts), "planned": k.planned}
            for k in (kinds if kinds is not None else load_kinds().values())]


def markdown_table(requirements: Iterable[Requirement] = ()) -> str:
    """The kinds as a Markdown table (README "Other products": ``python3 -m
    rs_preflight.spec.kinds`` prints it), with the IDs of ``requirements`` of each kind."""
    by_kind: dict[str, list[str]] = {}
    for req in requirements:
        by_kind.setdefault(req.kind, []).append(req.id)
    rows = ["| kind | scope | params (* required) | what it checks | R-Service |",
            "|---|---|---|---|---|"]
    for kind in load_kinds().values():
        ids = ", ".join(by_kind.get(kind.name, [])) or "–"
        text = kind.description.replace("|", "\\|")
        if kind.planned:
            text = f"*planned, no check shipped yet:* {text}"
        rows.append(f"| `{kind.name}` | {kind.scope} | {kind.summary()} | {text} | {ids} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    from rs_preflight.spec.catalogue import shipped

    print(markdown_table(shipped().values()), end="")


__all__ = ["ALWAYS_GATHERED", "EMPTY_NEEDS", "SCOPES", "Kind", "Needs", "closest", "describe",
           "load_kinds", "markdown_table", "needs_for", "sections_for", "unknown_kind"]
