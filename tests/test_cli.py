"""The ``rs-preflight`` command as a user runs it: a subprocess in an empty folder."""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]


# the checkout under test first on the path, whatever else is installed
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rs_preflight.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=ENV)


def test_no_site_checks_this_machine(tmp_path: Path) -> None:
    proc = cli(tmp_path)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    assert (tmp_path / "rs-preflight-report" / "junit.xml").exists()
    assert doc["profile"] == "pilot" and doc["site"].endswith("(this machine)")
    os_record = next(r for r in doc["results"] if r["requirement"] == "RS-OS-01")
    assert os_record["outcome"] in ("passed", "failed")  # checked, not an error
    assert os_record["found"]  # says what this machine runs
    assert os_record["evidence"].startswith("$ cat /etc/os-release")  # and how it knows
    [host] = doc["hosts"].values()
    samples = 5  # RS-TIME-03 reads the clock in round trips of their own (catalogue: samples)
    assert host["round_trips"] == 1 + samples
    assert "rs-preflight: site" in proc.stdout and "site-packages" not in proc.stdout
    assert proc.stdout.splitlines()[-2].startswith("gate: ")  # the verdict, then the reports
    assert proc.stdout.splitlines()[-1].startswith("reports: rs-preflight-report/")
    assert proc.returncode == (1 if doc["gate"] == "failed" else 0)


def test_broken_site_exits_4_and_lists_problems(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("name: x\nprofile: huge\nbogus: 1\n")
    proc = cli(tmp_path, "--site", "site.yaml")
    assert proc.returncode == 4
    assert "site.yaml:2: profile: 'huge' is not one of" in proc.stderr
    assert "site.yaml:3: bogus: unknown key" in proc.stderr
    assert "site.yaml:1: hosts: the site has no hosts" in proc.stderr  # everything at once
    assert not (tmp_path / "rs-preflight-report" / "results.json").exists()


def test_env_only_site_lints_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ITRP_SSL=false\nDB_SSL_MODE=sometimes\n")
    (tmp_path / "site.yaml").write_text(
        "name: lint\nenv_files: [.env]\nhosts: {app1: {address: 192.0.2.1, roles: [app], "
        "ssh: false}}\n")
    proc = cli(tmp_path, "--site", "site.yaml", "-k", "RS-ENV")
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    outcomes = {r["requirement"]: r["outcome"] for r in doc["results"]}
    assert outcomes == {"RS-ENV-01": "failed", "RS-ENV-02": "failed", "RS-ENV-03": "failed",
                        "RS-ENV-04": "failed", "RS-ENV-05": "skipped"}
    assert proc.returncode == 1


def test_schema_is_a_valid_json_schema(tmp_path: Path) -> None:
    proc = cli(tmp_path, "schema")
    schema = json.loads(proc.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "RS-OS-02" in schema["properties"]["waivers"]["items"]["properties"][
        "requirement"]["enum"]


def test_requirements_lists_the_catalogue(tmp_path: Path) -> None:
    lines = cli(tmp_path, "requirements").stdout.splitlines()
    assert any(line.startswith("RS-SYSCTL-02") and "pre warning, post blocker" in line
               for line in lines)


def test_plain_pytest_runs_the_shipped_checks(tmp_path: Path) -> None:
    """Teams whose CI drives pytest: the plugin options plus the checks' path."""
    checks = cli(tmp_path, "checks-path").stdout.strip()
    proc = subprocess.run([sys.executable, "-m", "pytest", checks, "-p", "no:cacheprovider",
                           "--rs-json", "r.json", "-k", "RS-OS-01"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=ENV)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [r["requirement"] for r in doc["results"]] == ["RS-OS-01"]
    assert proc.returncode == (1 if doc["gate"] == "failed" else 0)


@pytest.mark.parametrize("phase", ["pre", "post"])
def test_phase_flag(tmp_path: Path, phase: str) -> None:
    cli(tmp_path, "--phase", phase, "-k", "RS-LIMIT-01")
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    [record] = doc["results"]
    assert record["phase"] == phase
    assert record["severity"] == {"pre": "warning", "post": "blocker"}[phase]


def test_url_and_named_secrets_reach_no_output(tmp_path: Path) -> None:
    """The shipped checks over URL settings with credentials (one with a bad port: the
    formatter must not crash), RABBIT_MQ_PASS, a webhook URL in the site file: no canary, nor
    an 8-character prefix of one, in stdout, stderr or any report."""
    alphabet = string.ascii_letters + string.digits
    c = {k: "Q" + "".join(secrets.choice(alphabet) for _ in range(20))
         for k in ("known", "rabbit", "es1", "es2", "faye", "hook")}
    (tmp_path / ".env").write_text(
        f"ITRP_SSL=true\nITRP_DOMAIN=example.com\nDB_WRITER_PASSWORD={c['known']}\n"
        f"RABBIT_MQ_PASS={c['rabbit']}\n"
        f"ELASTICSEARCH_URLS=https://admin:{c['es1']}@search1:99999,"
        f"https://admin:{c['es2']}@127.0.0.1:1\n"
        f"FAYE_URL=http://faye:{c['faye']}@rt.example.com/faye\n")
    (tmp_path / "site.yaml").write_text(
        "name: canary\nenv_files: [.env]\n"
        f"settings: {{ITRP_SSL: true, RSERVICE_WEBHOOK_URL: 'https://hook:{c['hook']}@hooks."
        "example.com/in'}\nhosts:\n"
        "  app1: {address: 192.0.2.1, roles: [app], ssh: false}\n"
        "  search1: {address: 127.0.0.1, roles: [search], ssh: false}\n")
    proc = cli(tmp_path, "--site", "site.yaml", "-k", "RS-ENV or RS-SEARCH")
    out = tmp_path / "rs-preflight-report"
    texts = {"stdout": proc.stdout, "stderr": proc.stderr,
             **{p.name: p.read_text() for p in out.iterdir()}}
    assert set(texts) >= {"stdout", "stderr", "results.json", "report.html", "junit.xml"}
    doc = json.loads(texts["results.json"])
    records = {r["requirement"]: r for r in doc["results"]}
    # the URLs were shown (masked), the checks ran to a verdict, none crashed
    assert "http://faye:<redacted>@rt.example.com/faye" in records["RS-ENV-05"]["found"]
    assert "https://admin:<redacted>@search1:99999" in records["RS-ENV-05"]["message"]
    assert records["RS-SEARCH-01"]["outcome"] == "error"
    assert "https://admin:<redacted>@search1:99999" in records["RS-SEARCH-01"]["message"]
    assert not any("crashed" in r["message"] for r in doc["results"])
    hits = {name: [k for k, v in c.items() if v[:8] in text] for name, text in texts.items()}
    assert hits == {name: [] for name in texts}
