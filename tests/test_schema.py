"""The site schema as editors and CI use it: a real $id, a description for every key, dates
accepted as dates, and every example site valid with nothing but PyYAML + jsonschema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.schema import SCHEMA_ID, site_schema
from rs_preflight.spec.site import load_site

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SITES = sorted(p for p in (ROOT / "examples").rglob("*.yaml")
                       if "name" in (yaml.safe_load(p.read_text()) or {})
                       and "requirements" not in yaml.safe_load(p.read_text()))


def catalogue_of(site: Path) -> Path | None:
    """The catalogue an example site is written for: ``examples/NAME/…`` uses
    ``examples/catalogues/NAME.yaml`` when there is one (another product's roles and
    profiles), else R-Service's (None)."""
    folder = site.relative_to(ROOT / "examples").parts[0]
    candidate = ROOT / "examples" / "catalogues" / f"{folder}.yaml"
    return candidate if candidate.is_file() else None


def schema(catalogue: Path | None = None) -> dict[str, Any]:
    return site_schema(load_catalogue(catalogue))


def validator(catalogue: Path | None = None) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema(catalogue), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def keys(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every key of the schema (and each list item and any-name value) with its subschema."""
    for key, sub in node.get("properties", {}).items():
        child = f"{path}.{key}" if path else key
        yield child, sub
        yield from keys(sub, child)
    if isinstance(node.get("additionalProperties"), dict):
        yield f"{path}.*", node["additionalProperties"]
        yield from keys(node["additionalProperties"], f"{path}.*")
    items = node.get("items")
    if isinstance(items, dict) and ("properties" in items or "oneOf" in items):
        yield f"{path}[]", items  # a list of mappings (a list of strings: the list says it)
        yield from keys(items, f"{path}[]")
    for sub in node.get("oneOf", []):
        yield from keys(sub, path)


def test_the_schema_has_a_real_id_and_is_valid() -> None:
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$id"] == SCHEMA_ID == "https://rs-preflight.dev/schema/site-1.json"
    assert "example" not in s["$id"]


def test_every_key_has_a_description() -> None:
    s = schema()
    assert s["description"]
    missing = [path for path, sub in keys(s) if not sub.get("description")]
    assert missing == []
    described = dict(keys(s))
    assert len(described) > 50 and "waivers[].expires" in described
    assert described["ssh"]["properties"]["user"]["description"] != \
        described["ssh"]["properties"]["known_hosts"]["description"]  # none shared by mistake


def test_there_are_example_sites() -> None:
    assert {p.name for p in EXAMPLE_SITES} >= {"site.yaml", "site-from-inventory.yaml"}


@pytest.mark.parametrize("path", EXAMPLE_SITES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_site_is_valid_with_pyyaml_and_jsonschema(path: Path) -> None:
    """What a CI lint step does: yaml.safe_load (dates become dates) + the published schema."""
    data = yaml.safe_load(path.read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in validator(catalogue_of(path)).iter_errors(data)]
    assert errors == []


def test_dates_are_dates_and_only_dates() -> None:
    def waiver(expires: object) -> dict[str, Any]:
        return {"name": "x", "waivers": [{"requirement": "RS-OS-02", "reason": "r",
                                          "expires": expires}]}
    ok = yaml.safe_load("name: x\nwaivers: [{requirement: RS-OS-02, reason: r, "
                        "expires: 2027-03-31}]\n")
    assert validator().is_valid(ok)  # a datetime.date from PyYAML
    assert validator().is_valid(waiver("2027-03-31"))  # a string, as editors see it
    for bad in ("31.03.2027", "2027-13-01", 20270331, True, None, ["2027-03-31"]):
        assert not validator().is_valid(waiver(bad)), bad


def test_the_loader_still_reads_the_example_waiver_date(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    ssh = tmp_path / ".ssh"
    ssh.mkdir()
    (ssh / "id_ed25519").write_text("x\n")
    (ssh / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (".env", ".env.web", ".env.job", ".env.realtime"):
        (tmp_path / name).write_text("ITRP_SSL=true\n")
    site_dir = ROOT / "examples" / "small"
    text = (site_dir / "site.yaml").read_text()
    copy = tmp_path / "site.yaml"
    copy.write_text(text)
    (tmp_path / "corp-ca.pem").write_bytes((site_dir / "corp-ca.pem").read_bytes())
    site = load_site(copy)
    assert str(site.waivers[0].expires) == "2027-03-31"
