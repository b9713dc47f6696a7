"""A catalogue is data: requirements name a check kind and its params; catalogues compose;
another product's profile is a file, no new code (issue 13).

The contract of the issue (``extra.yaml``: one ``sysctl`` requirement, a site of this machine)
is run here both ways against this machine's real ``net.core.somaxconn``; the lab version (a
host whose value the test sets) is ``tests/lab/test_kinds_lab.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rs_preflight.spec.catalogue import load_catalogue, load_catalogues, shipped
from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.kinds import load_kinds

ROOT = Path(__file__).resolve().parents[1]
TRAEFIK = ROOT / "examples" / "catalogues" / "traefik-docker.yaml"
SHIPPED_FILES = [ROOT / "rs_preflight" / "data" / "catalogue.yaml",
                 *sorted((ROOT / "examples" / "catalogues").glob("*.yaml"))]

# The contract, verbatim (tests/lab/test_kinds_lab.py runs it on a lab host).
EXTRA = (ROOT / "tests" / "data" / "catalogues" / "extra.yaml").read_text()
LOCAL_SITE = "name: tuning\nprofile: standard\nhosts:\n  here: {connection: local, roles: [app]}\n"


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rs_preflight.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def results(cwd: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((cwd / "rs-preflight-report" / "results.json").read_text())
    return doc


def test_requirements_name_their_kind() -> None:
    catalogue = load_catalogue(TRAEFIK)
    assert [r.id for r in catalogue.of_kind("docker_log_rotation")] == ["DT-LOG-01"]
    assert catalogue.of_kind("os_supported") == []
    assert dict(catalogue["DT-LOG-01"].params) == {"max_size": "10m", "max_file": 3,
                                                   "compress": True}
    rservice = shipped()
    assert [r.id for r in rservice.of_kind("sysctl")] == ["RS-SYSCTL-01", "RS-SYSCTL-02"]
    assert [r.id for r in rservice.of_kind("nofile")] == ["RS-LIMIT-01", "RS-LIMIT-02",
                                                          "RS-LIMIT-03"]
    assert len(rservice) == 57 and all(r.kind in load_kinds() for r in rservice.values())


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.name)
def test_every_shipped_catalogue_validates_with_its_lines(path: Path) -> None:
    """Loaded as a user's file (with lines, every kind and params schema checked)."""
    catalogue = load_catalogue(path)
    assert len(catalogue) > 0
    raw = yaml.safe_load(path.read_text())
    for rid, body in raw["requirements"].items():
        assert "implements" not in body and "thresholds" not in body, rid  # the current format
        assert "kind" in body, rid


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.name)
def test_every_requirement_of_every_shipped_catalogue_is_collected(
        tmp_path: Path, path: Path) -> None:
    """A site using the catalogue, with a host of every role: ``--collect-only`` collects a
    check for every requirement (none silently missing; checks of kinds the catalogue does
    not use are deselected). A requirement of a *planned* kind (declared, no check shipped
    yet) is not collected, and the run says so: incomplete, naming the kind."""
    catalogue = load_catalogue(path)
    roles = list(catalogue.roles)
    profile = next(iter(catalogue.profiles))
    (tmp_path / "site.yaml").write_text(
        f"name: all-roles\nprofile: {profile}\nhosts:\n"
        f"  h1: {{address: 192.0.2.1, roles: [{', '.join(roles)}], ssh: false}}\n")
    proc = cli(tmp_path, "--site", "site.yaml", "--rs-catalogue", str(path), "--phase", "post",
               "--collect-only", "-q")
    collected = {line.rsplit("[", 1)[1].rstrip("]").split("@")[0]
                 for line in proc.stdout.splitlines() if "::" in line and "[" in line}
    kinds = load_kinds()
    planned = {rid for rid, req in catalogue.items() if kinds[req.kind].planned}
    assert collected == set(catalogue) - planned, proc.stdout[-3000:] + proc.stderr[-2000:]
    doc = results(tmp_path)
    assert {c.split("@")[0] for c in doc["not_selected"]} == {
        rid for rid in planned if "post" in catalogue[rid].phases}
    if planned:
        assert doc["complete"] is False
        names = sorted({catalogue[rid].kind for rid in planned})
        assert any(f"no collected check implements them: kind {', '.join(names)}" in reason
                   for reason in doc["incomplete_reasons"]), doc["incomplete_reasons"]


def test_every_kind_has_exactly_one_shipped_check(tmp_path: Path) -> None:
    """The registry and the checks agree: each kind of data/kinds.yaml has one check (else
    a requirement of that kind could never run) — two would be a usage error — except the
    planned kinds, declared ahead of their checks. The shipped catalogue and the example
    catalogues composed use every kind between them."""
    composed = load_catalogues(tuple(SHIPPED_FILES))
    (tmp_path / "site.yaml").write_text(
        "name: all-kinds\nprofile: small\nhosts:\n"
        f"  h1: {{address: 192.0.2.1, roles: [{', '.join(composed.roles)}], ssh: false}}\n")
    args = [a for f in SHIPPED_FILES for a in ("--rs-catalogue", str(f))]
    proc = cli(tmp_path, "--site", "site.yaml", *args, "--collect-only", "-q")
    lines = [line for line in proc.stdout.splitlines() if "::" in line]
    checks = {line.split("[")[0] for line in lines}
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    by_kind: dict[str, set[str]] = {}
    for line in lines:
        rid = line.rsplit("[", 1)[1].split("@")[0].rstrip("]")
        by_kind.setdefault(composed[rid].kind, set()).add(line.split("[")[0])
    shipped_kinds = {name for name, kind in load_kinds().items() if not kind.planned}
    assert set(by_kind) == shipped_kinds
    assert all(len(functions) == 1 for functions in by_kind.values()), by_kind
    assert len(checks) == len(shipped_kinds)
    from rs_preflight.commands import checks_path
    text = "".join(p.read_text() for p in checks_path().glob("test_*.py"))
    for name, kind in load_kinds().items():
        assert (f'@pytest.mark.kind("{name}"' in text) is not kind.planned, name


def test_the_shipped_checks_run_under_another_catalogue(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "name: traefik-box\nprofile: standard\nhosts:\n"
        "  here: {connection: local, roles: [docker]}\n")
    proc = cli(tmp_path, "--site", "site.yaml", "--rs-catalogue", str(TRAEFIK))
    doc = results(tmp_path)
    records = {r["requirement"]: r for r in doc["results"]}
    raw = yaml.safe_load(TRAEFIK.read_text())["requirements"]
    assert set(records) == set(raw), proc.stdout[-2000:]
    for rid, body in raw.items():  # no host holds traefik: those are n/a, said once
        if "docker" not in body["roles"]:
            assert records[rid]["outcome"] == "skipped" and records[rid]["host"] is None
    assert doc["catalogue"] == "Traefik/Docker host (seeds/002)"
    log = records["DT-LOG-01"]
    assert log["expected"] == ('json-file with log-opts max-size <= 10m, max-file <= 3, '
                               'compress "true"')
    assert log["guide_section"] == "03.04.03" and log["host"] == "here"
    assert records["DT-TIME-01"]["severity"] == "warning"
    assert records["DT-RESTART-01"]["outcome"] == "skipped"  # phase post only


def test_the_contract_on_this_machine(tmp_path: Path) -> None:
    """The issue's extra.yaml with a site of this machine: exactly one XT-SYSCTL-01 record,
    passed when its net.core.somaxconn is >= 4096, failed with found/expected otherwise (the
    value is read first; the lab test sets it both ways on a host)."""
    value = int(Path("/proc/sys/net/core/somaxconn").read_text().split()[0])
    (tmp_path / "extra.yaml").write_text(EXTRA)
    (tmp_path / "site.yaml").write_text(LOCAL_SITE)
    proc = cli(tmp_path, "--site", "site.yaml", "--rs-catalogue", "extra.yaml")
    doc = results(tmp_path)
    assert [(r["requirement"], r["host"]) for r in doc["results"]] == [("XT-SYSCTL-01", "here")]
    record = doc["results"][0]
    assert record["expected"] == ">= 4096" and record["found"] == str(value)
    assert record["outcome"] == ("passed" if value >= 4096 else "failed"), record
    assert proc.returncode == (0 if value >= 4096 else 1), proc.stdout[-2000:]
    assert doc["complete"] is True and doc["catalogue"] == "Tuning extras"
    assert doc["selection"]["catalogues"] == ["extra.yaml"]
    # only what the sysctl kind reads was gathered (and the OS, for the host table)
    assert doc["hosts"]["here"]["round_trips"] == 1


def test_a_misspelt_kind_exits_4_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "extra.yaml").write_text(EXTRA.replace("kind: sysctl", "kind: sysctll"))
    (tmp_path / "site.yaml").write_text(LOCAL_SITE)
    proc = cli(tmp_path, "--site", "site.yaml", "--rs-catalogue", "extra.yaml")
    assert proc.returncode == 4
    line = next(line for line in proc.stderr.splitlines() if line.startswith("extra.yaml:"))
    assert line.startswith("extra.yaml:7: requirements.XT-SYSCTL-01: unknown kind 'sysctll' "
                           "(known: ")
    assert line.endswith(" / did you mean 'sysctl'?)")
    assert not (tmp_path / "rs-preflight-report" / "results.json").exists()
    # every subcommand says the same
    proc = cli(tmp_path, "requirements", "--rs-catalogue", "extra.yaml")
    assert proc.returncode == 4 and "extra.yaml:7: requirements.XT-SYSCTL-01: unknown kind" \
        in proc.stderr


@pytest.mark.parametrize(("change", "problem"), [
    (("params: {key: net.core.somaxconn, min: 4096}", "params: {key: net.core.somaxconn}"),
     "extra.yaml:8: requirements.XT-SYSCTL-01: params: 'min' is required"),
    (("params: {key: net.core.somaxconn, min: 4096}",
      "params:\n      key: net.core.somaxconn\n      min: lots"),
     "extra.yaml:10: requirements.XT-SYSCTL-01: params.min: 'lots' is not of type 'integer'"),
    (("params: {key: net.core.somaxconn, min: 4096}",
      "params: {key: ../../etc/shadow, min: 1}"),
     "extra.yaml:8: requirements.XT-SYSCTL-01: params.key: '../../etc/shadow' does not match"),
    (("    kind: sysctl\n", ""),
     "extra.yaml:6: requirements.XT-SYSCTL-01: no kind: say which check verifies it"),
    (("roles: [app]\n    phases", "roles: [site]\n    phases"),
     "extra.yaml:11: requirements.XT-SYSCTL-01: roles: kind 'sysctl' is judged per host"),
    (("roles: [app]\n    phases", "roles: [db]\n    phases"),
     "extra.yaml:11: requirements.XT-SYSCTL-01: roles: 'db' not among the catalogue's roles"),
    (("    title: Listen backlog\n", "    titel: Listen backlog\n"),
     "extra.yaml:6: requirements.XT-SYSCTL-01: 'title' is required\n"
     "extra.yaml:9: requirements.XT-SYSCTL-01: unknown key 'titel'"),
    (("XT-SYSCTL-01:", "XTSYSCTL:"),
     "extra.yaml:6: requirements.XTSYSCTL: a requirement ID is PRODUCT-AREA-NN"),
])
def test_wrong_requirements_are_located(tmp_path: Path, change: tuple[str, str],
                                        problem: str) -> None:
    old, new = change
    assert old in EXTRA
    (tmp_path / "extra.yaml").write_text(EXTRA.replace(old, new))
    with pytest.raises(SiteError) as caught:
        load_catalogues((Path(tmp_path / "extra.yaml"),))
    shown = str(caught.value).replace(str(tmp_path) + "/", "")
    assert shown.startswith(problem), shown


def test_deprecated_thresholds_and_implements_still_load(tmp_path: Path) -> None:
    old = EXTRA.replace("    kind: sysctl\n", "    implements: RS-SYSCTL-01\n").replace(
        "params:", "thresholds:")
    (tmp_path / "old.yaml").write_text(old)
    req = load_catalogue(tmp_path / "old.yaml")["XT-SYSCTL-01"]
    # the kind of RS-SYSCTL-01, and nothing else of it: the params are the entry's own
    assert (req.kind, dict(req.params)) == ("sysctl", {"key": "net.core.somaxconn", "min": 4096})
    assert req.thresholds is req.params


def test_catalogues_compose(tmp_path: Path) -> None:
    """``r-service`` + a file: the file adds requirements, replaces one by ID (the whole
    entry), adds a profile, and its roles join the shipped ones."""
    (tmp_path / "more.yaml").write_text(
        "product: Extras\nroles: [edge]\nrequirements:\n"
        "  RS-SYSCTL-03:\n    kind: sysctl\n    params: {key: net.core.somaxconn, min: 4096}\n"
        "    title: Listen backlog\n    section: '9.4'\n    roles: [app, edge]\n"
        "    phases: [pre, post]\n    severity: warning\n"
        "  RS-OS-02:\n    kind: no_processes\n    params: {forbidden_processes: [Xorg]}\n"
        "    title: No X\n    section: '9.2'\n    roles: [app]\n    phases: [post]\n"
        "    severity: blocker\n"
        "profiles:\n  tiny:\n    app: {cpu: 1, ram_gb: 1, disks_gb: [1], count: 1}\n")
    composed = load_catalogues((Path("r-service"), tmp_path / "more.yaml"))
    base = shipped()
    assert list(composed) == [*base, "RS-SYSCTL-03"]  # an override keeps its place
    assert composed["RS-OS-02"].title == "No X" and composed["RS-OS-02"].remediation == ""
    assert composed["RS-OS-01"] == base["RS-OS-01"]
    assert composed.roles == (*base.roles, "edge")
    assert set(composed.profiles) == {*base.profiles, "tiny"}
    assert composed.product == "R-Service + Extras"
    assert composed.sources == ("r-service (shipped)", str(tmp_path / "more.yaml"))
    # a file named r-service wins over the word
    (tmp_path / "r-service").write_text(EXTRA)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert list(load_catalogues((Path("r-service"),))) == ["XT-SYSCTL-01"]
    finally:
        os.chdir(cwd)


def test_requirements_command_shows_kinds_and_composes(tmp_path: Path) -> None:
    (tmp_path / "extra.yaml").write_text(EXTRA)
    table = cli(tmp_path, "requirements", "--rs-catalogue", "r-service", "--rs-catalogue",
                "extra.yaml").stdout.splitlines()
    assert len(table) == 58
    assert table[-1].split()[:3] == ["XT-SYSCTL-01", "sysctl", "blocker"]
    assert table[0].split()[:2] == ["RS-OS-01", "os_supported"]
    as_json = json.loads(cli(tmp_path, "requirements", "--format", "json", "--rs-catalogue",
                             "extra.yaml").stdout)
    assert as_json == [{"id": "XT-SYSCTL-01", "kind": "sysctl",
                        "params": {"key": "net.core.somaxconn", "min": 4096},
                        "title": "Listen backlog", "section": "1.1", "roles": ["app"],
                        "phases": ["pre", "post"],
                        "severity": {"pre": "blocker", "post": "blocker"},
                        "remediation": "Set net.core.somaxconn = 4096 in /etc/sysctl.d/ and "
                                       "run sysctl --system."}]
    kinds = cli(tmp_path, "requirements", "--kinds").stdout
    assert "sysctl                 host  key* (string), min* (integer)" in kinds
    listed = json.loads(cli(tmp_path, "requirements", "--kinds", "--format", "json").stdout)
    assert [k["kind"] for k in listed] == list(load_kinds())
