"""Another product's profile is data: a catalogue whose requirements reuse the shipped checks
(`implements:`) with their own IDs, roles, thresholds and texts — no new code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rs_preflight.spec.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[1]
TRAEFIK = ROOT / "examples" / "catalogues" / "docker-traefik.yaml"


def test_requirements_name_the_check_they_reuse() -> None:
    catalogue = load_catalogue(TRAEFIK)
    assert [r.id for r in catalogue.implementing("RS-DOCKER-03")] == ["DT-LOG-01"]
    assert catalogue.implementing("RS-OS-01") == []
    rservice = load_catalogue()
    assert [r.id for r in rservice.implementing("RS-DOCKER-03")] == ["RS-DOCKER-03"]


def test_the_shipped_checks_run_under_another_catalogue(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "name: traefik-box\nprofile: standard\nhosts:\n"
        "  here: {connection: local, roles: [docker]}\n")
    proc = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "--site", "site.yaml",
                           "--rs-catalogue", str(TRAEFIK)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    records = {r["requirement"]: r for r in doc["results"]}
    assert set(records) == {"DT-DOCKER-01", "DT-DOCKER-02", "DT-LOG-01", "DT-TIME-01"}, \
        proc.stdout[-2000:]
    assert doc["catalogue"] == "Docker/Traefik host (seeds/002)"
    log = records["DT-LOG-01"]
    assert log["expected"] == "json-file with log-opts max-size <= 10m, max-file <= 3"
    assert log["guide_section"] == "03.04.03" and log["host"] == "here"
    assert records["DT-TIME-01"]["severity"] == "warning"
