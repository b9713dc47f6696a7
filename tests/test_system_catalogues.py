"""The catalogues of issue 14's other systems (Traefik/Docker, Altcraft, collaboration): each is
written from its source document (named in ``guide:``), declares a kind and its parameters for
every requirement, and its example site loads with it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.site import load_site

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = {  # catalogue → the seeds document it is written from
    "traefik-docker": "seeds/002_8cceab858115656d.txt",
    "altcraft": "seeds/003_520498866de164c0.txt",
    "collaboration": "seeds/004_fb5c41767548116c.txt",
}


def catalogue_file(system: str) -> Path:
    return ROOT / "examples" / "catalogues" / f"{system}.yaml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with the key files the example sites name."""
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "id_ed25519").write_text("not a real key\n")
    (ssh / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_catalogue_names_its_source_document(system: str) -> None:
    raw = yaml.safe_load(catalogue_file(system).read_text())
    assert raw["guide"].startswith(SYSTEMS[system])
    assert SYSTEMS[system].split("/")[1][:3] in raw["product"] + raw["guide"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_requirement_declares_its_kind_and_params(system: str) -> None:
    raw = yaml.safe_load(catalogue_file(system).read_text())
    for rid, body in raw["requirements"].items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", body["kind"]), rid
        assert isinstance(body["params"], dict), rid
        assert not {"thresholds", "implements"} & set(body), f"{rid}: the older keys"
        assert set(body["roles"]) <= set(raw["roles"]), rid
        assert body["remediation"] and body["section"], rid


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_example_site_loads_with_its_catalogue(system: str, home: Path) -> None:
    catalogue = load_catalogue(catalogue_file(system))
    site = load_site(ROOT / "examples" / system / "site.yaml", catalogue=catalogue)
    roles = {role for host in site.hosts for role in host.roles}
    used = {role for req in catalogue.values() for role in req.roles}
    assert used <= roles, f"no host of the example holds {used - roles}"


def test_traefik_hosts_list_the_routes_of_the_document(home: Path) -> None:
    site = load_site(ROOT / "examples" / "traefik-docker" / "site.yaml",
                     catalogue=load_catalogue(catalogue_file("traefik-docker")))
    assert site.host("server2").names == (
        "traefik2.tapbot.kz", "dir.tapbot.kz", "pg.tapbot.kz", "logs2.tapbot.kz",
        "portainer2.tapbot.kz")
    assert "n8n.tapbot.kz" in site.host("server1").names


def test_altcraft_lists_every_akd_process_once() -> None:
    """The guide's two lists (chapter 4's script: 40 names; chapter 6's table: 32, two spelt
    differently) are one set: each process once, a disputed spelling as alternatives."""
    raw = yaml.safe_load(catalogue_file("altcraft").read_text())["requirements"]
    entries = [p for rid in ("AC-PROC-01", "AC-PROC-02", "AC-PROC-03")
               for p in raw[rid]["params"]["processes"]]
    names = [n for e in entries for n in (e if isinstance(e, list) else [e])]
    assert len(names) == len(set(names)) == 42 and len(entries) == 40
    assert all(n.startswith("AK:") and " " not in n for n in names)
    assert ["AK:procsmssev", "AK:proccsmsev"] in entries


@pytest.mark.parametrize("system", SYSTEMS)
def test_requirements_lists_the_catalogue(system: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "requirements",
                           "--rs-catalogue", str(catalogue_file(system)), "--format", "json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    listed = [r["id"] for r in json.loads(proc.stdout)]
    assert listed == list(yaml.safe_load(catalogue_file(system).read_text())["requirements"])


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_example_site_collects_every_requirement(system: str, home: Path,
                                                     tmp_path: Path) -> None:
    """``--collect-only`` on the example site, as its header comment says to run it: every
    requirement of the catalogue has a check for each host of its roles."""
    folder = ROOT / "examples" / system
    proc = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "--site",
                           str(folder / "site.yaml"), "--rs-catalogue",
                           str(catalogue_file(system)), "--collect-only", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(home)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    collected = {line.rsplit("[", 1)[1].split("@")[0] for line in proc.stdout.splitlines()
                 if "::" in line and "[" in line}
    assert collected == set(yaml.safe_load(catalogue_file(system).read_text())["requirements"])
