"""``rs-preflight lint`` and the site lint in a run, as admins and CI use them: errors exit 4
with ``file:line``, warnings are listed and the run goes on, shown at load and written to
results.json's ``warnings`` — each both ways, on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**{k: v for k, v in os.environ.items() if k != "RS_PREFLIGHT_SITE"},
       "PYTHONPATH": str(ROOT)}
DUPLICATES = """
    name: dup
    domain: rcsnet.ru
    hosts:
      fs1:
        address: "fd75:9fac:a7b1:92:6c::601"
        fqdn: fs1.voip.rcsnet.ru
        roles: [app]
      fs2:
        address: "fd75:9fac:a7b1:92:6c::601"
        fqdn: fs1.voip.rcsnet.ru
        roles: [app]
    """
OUT_OF_ZONE = """
    name: zone
    domain: rcsnet.ru
    hosts:
      here:
        connection: local
        fqdn: couch2.db.rcsnet.ru1
        roles: [app]
    """


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rs_preflight.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=ENV)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_lint_lists_errors_with_their_lines_and_exits_4(tmp_path: Path) -> None:
    write(tmp_path, DUPLICATES)
    proc = cli(tmp_path, "lint", "--site", "site.yaml")
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout.splitlines() == [
        "error: site.yaml:9: hosts.fs2.address: fd75:9fac:a7b1:92:6c::601 is also the "
        "address of host fs1 (line 5): one address, 2 hosts (fs1, fs2); each host needs its "
        "own address",
        "error: site.yaml:10: hosts.fs2.fqdn: fs1.voip.rcsnet.ru is also the DNS name of "
        "host fs1 (line 6); a name belongs to one host or floating address",
        "rs-preflight lint: site.yaml: 2 error(s), 0 warning(s): refused: a run exits 4"]
    run = cli(tmp_path, "--site", "site.yaml")  # the run refuses the same site, same lines
    assert run.returncode == 4
    assert "site.yaml:9: hosts.fs2.address: fd75:9fac:a7b1:92:6c::601 is also" in run.stderr
    assert not (tmp_path / "rs-preflight-report" / "results.json").exists()


def test_lint_lists_warnings_and_exits_0_or_1_with_strict(tmp_path: Path) -> None:
    write(tmp_path, OUT_OF_ZONE)
    proc = cli(tmp_path, "lint")  # the site is found as the run finds it: ./site.yaml
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "warning: site.yaml:6: hosts.here.fqdn: couch2.db.rcsnet.ru1 is outside the site's "
        "domain rcsnet.ru (host here)",
        "rs-preflight lint: site.yaml: 0 error(s), 1 warning(s): valid, with warnings"]
    assert cli(tmp_path, "lint", "--strict").returncode == 1
    doc = json.loads(cli(tmp_path, "lint", "--format", "json").stdout)
    assert doc == {"site": "site.yaml", "valid": True, "errors": [], "warnings": [
        {"file": "site.yaml", "line": 6, "path": "hosts.here.fqdn",
         "message": "couch2.db.rcsnet.ru1 is outside the site's domain rcsnet.ru (host here)"}]}
    assert not (tmp_path / "rs-preflight-report").exists()  # lint runs nothing


def test_a_clean_site_lints_clean(tmp_path: Path) -> None:
    write(tmp_path, OUT_OF_ZONE.replace("rcsnet.ru1", "rcsnet.ru"))
    proc = cli(tmp_path, "lint", "--site", "site.yaml", "--strict")
    assert proc.returncode == 0
    assert proc.stdout == "rs-preflight lint: site.yaml: 0 error(s), 0 warning(s): valid\n"


def test_the_runs_warnings_show_at_load_and_in_results_json(tmp_path: Path) -> None:
    write(tmp_path, OUT_OF_ZONE)
    proc = cli(tmp_path, "--site", "site.yaml", "--collect-only", "-q")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    lines = proc.stdout.splitlines()
    warning = ("site.yaml:6: hosts.here.fqdn: couch2.db.rcsnet.ru1 is outside the site's "
               "domain rcsnet.ru (host here)")
    assert lines[1] == f"rs-preflight: WARNING site: {warning}"  # before anything is collected
    assert f"WARNING site: {warning}" in lines  # and again in the summary
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    assert doc["warnings"] == [{"kind": "site", "message": warning}]
