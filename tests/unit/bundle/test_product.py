"""The product's own diagnostics in the bundle (a catalogue's ``bundle:``; Altcraft's 4.4):
fixed member names, every word quoted, unsafe patterns refused when the catalogue is read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rs_preflight.bundle import items
from rs_preflight.bundle.product import diagnostics, product_items
from rs_preflight.spec.catalogue import bundle_problems, load_catalogue
from rs_preflight.spec.errors import SiteError

ALTCRAFT = Path(__file__).resolve().parents[3] / "examples" / "catalogues" / "altcraft.yaml"


def test_the_altcraft_catalogue_asks_for_versions_logs_and_processes() -> None:
    diag = diagnostics(load_catalogue(ALTCRAFT).bundle)
    assert diag is not None and diag.roles == ("platform",) and diag.prefixes == ("AK:",)
    got = {i.path: i for i in product_items(diag, 50)}
    assert list(got) == ["product/versions.txt", *(f"product/logs-{n}.txt" for n in
                                                   range(1, 7)), "processes/product.txt"]
    assert all(items.allowed_path(p) for p in got)
    assert "$(/opt/akd/akd --processes 2>/dev/null)" in got["product/versions.txt"].command
    assert '/opt/akd/ak/bin/"$n" --version' in got["product/versions.txt"].command
    assert got["product/versions.txt"].shown == ("/opt/akd/akd --processes, then "
                                                 "/opt/akd/ak/bin/<process> --version for each")
    assert got["product/logs-1.txt"].command.startswith("for f in /opt/akd/logs/*.log; do")
    assert "tail -n 50 --" in got["product/logs-1.txt"].command
    assert "index($2, w[i]) == 1" in got["processes/product.txt"].command


@pytest.mark.parametrize("bundle", [
    {"basedir": "/opt/a; rm -rf /"}, {"files": ["/var/log/$(id).log"]},
    {"files": ["/var/log/a b.log"]}, {"files": [f"/l{i}" for i in range(21)]},
])
def test_patterns_that_could_reach_the_shell_are_refused(bundle: dict[str, object],
                                                         tmp_path: Path) -> None:
    assert bundle_problems(bundle)
    text = ALTCRAFT.read_text().split("\nbundle:")[0] + "\nbundle: " + json.dumps(bundle) + "\n"
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(SiteError, match="bundle"):
        load_catalogue(tmp_path / "c.yaml")


def test_no_bundle_section_no_product_items() -> None:
    assert diagnostics(load_catalogue().bundle) is None
