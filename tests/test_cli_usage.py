"""The command line as admins and CI type it: --version, --help, usage errors (exit 4), broken
pipes, --rs-catalogue everywhere, the report folder checked first, finding the site, init."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rs_preflight import __version__
from rs_preflight.cliutil import plugin_options
from rs_preflight.spec.site import load_site

ROOT = Path(__file__).resolve().parents[1]
ENV = {**{k: v for k, v in os.environ.items() if k != "RS_PREFLIGHT_SITE"},
       "PYTHONPATH": str(ROOT)}
CATALOGUE = ROOT / "examples" / "catalogues" / "traefik-docker.yaml"
SUBCOMMANDS = ("requirements", "schema", "lint", "report", "bundle", "checks-path", "init")
ENV_ONLY = ("name: {name}\nenv_files: [.env]\n"
            "hosts: {{app1: {{address: 192.0.2.1, roles: [app], ssh: false}}}}\n")


def cli(cwd: Path, *args: str, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rs_preflight.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, input=stdin,
                          env={**ENV, **(env or {})})


def test_version_is_rs_preflights(tmp_path: Path) -> None:
    proc = cli(tmp_path, "--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"rs-preflight {__version__} (pytest ")


def test_help_lists_subcommands_and_every_option(tmp_path: Path) -> None:
    proc = cli(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    for command in SUBCOMMANDS:
        assert f"\n  {command} " in proc.stdout
    for names, _ in plugin_options():
        for name in names:
            assert name in proc.stdout
    for option in ("--site", "--phase", "--report-dir", "--strict", "--allow-errors",
                   "--baseline", "--fail-on", "--waivers", "--version"):
        assert option in proc.stdout
    for group in ("the run:", "the gate:", "pytest plugin options", "exit codes:"):
        assert group in proc.stdout
    assert not (tmp_path / "rs-preflight-report").exists()  # help ran nothing


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_honours_help_and_the_catalogue_option(tmp_path: Path,
                                                                command: str) -> None:
    proc = cli(tmp_path, command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: rs-preflight {command}")
    assert "--rs-catalogue" in proc.stdout
    assert not any(tmp_path.iterdir())  # printed its help, did nothing else


def test_requirements_and_schema_read_the_catalogue_option(tmp_path: Path) -> None:
    table = cli(tmp_path, "requirements", "--rs-catalogue", str(CATALOGUE)).stdout
    assert table.startswith("DT-") and "RS-OS-01" not in table
    rows = json.loads(cli(tmp_path, "requirements", "--format", "json",
                          "--rs-catalogue", str(CATALOGUE)).stdout)
    assert rows and all(r["id"].startswith("DT-") for r in rows)
    schema = json.loads(cli(tmp_path, "schema", "--rs-catalogue", str(CATALOGUE)).stdout)
    enum = schema["properties"]["waivers"]["items"]["properties"]["requirement"]["enum"]
    assert enum == sorted(r["id"] for r in rows)
    assert cli(tmp_path, "checks-path", "--rs-catalogue", str(CATALOGUE)).returncode == 0


def test_requirements_as_json_and_table(tmp_path: Path) -> None:
    rows = json.loads(cli(tmp_path, "requirements", "--format", "json").stdout)
    sysctl = next(r for r in rows if r["id"] == "RS-SYSCTL-02")
    assert sysctl["severity"] == {"pre": "warning", "post": "blocker"}
    assert set(sysctl) >= {"id", "title", "section", "roles", "phases", "remediation"}
    table = cli(tmp_path, "requirements", "--format", "table").stdout.splitlines()
    assert len(table) == len(rows)


@pytest.mark.parametrize("args", [
    ("--phase", "during"), ("report",), ("requirements", "--format", "xml"),
    ("schema", "--bogus"), ("checks-path", "extra"), ("bundle", "--log-lines", "many"),
    ("init", "--from-env", "nowhere"), ("report", "--fail-on", "new", "r.json"),
    ("requirements", "--rs-catalogue", "missing.yaml"), ("--rs-phase", "during"),
    ("lint", "--format", "xml"), ("lint",), ("lint", "--site", "missing.yaml"),
])
def test_usage_errors_exit_4(tmp_path: Path, args: tuple[str, ...]) -> None:
    proc = cli(tmp_path, *args)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "rs-preflight-report" / "results.json").exists()


@pytest.mark.parametrize("args", [("requirements",), ("requirements", "--format", "json"),
                                  ("schema",), ("checks-path",), ("--help",)])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, args: tuple[str, ...]) -> None:
    """`rs-preflight requirements | head`: the reader is gone before the first write."""
    proc = subprocess.Popen([sys.executable, "-m", "rs_preflight.cli", *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert err == ""


def test_an_unwritable_report_folder_stops_the_run_before_any_check(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    proc = cli(tmp_path, "--report-dir", "a-file/reports")
    assert proc.returncode == 4
    assert "cannot write the reports to a-file/reports: Not a directory" in proc.stderr
    assert "Traceback" not in proc.stderr and "passed" not in proc.stdout


def test_plain_pytest_checks_report_folders_first(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    checks = cli(tmp_path, "checks-path").stdout.strip()
    proc = subprocess.run([sys.executable, "-m", "pytest", checks, "-p", "no:cacheprovider",
                           "--rs-junit", "a-file/junit.xml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 4
    assert "--rs-junit: cannot write the reports to a-file" in proc.stderr


def test_the_report_folder_is_created(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ITRP_SSL=true\n")
    (tmp_path / "site.yaml").write_text(ENV_ONLY.format(name="made"))
    proc = cli(tmp_path, "--report-dir", "deep/er/reports", "-k", "RS-ENV-03")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    report = tmp_path / "deep" / "er" / "reports"
    assert json.loads((report / "results.json").read_text())["site"] == "made"
    assert json.loads((report / "gl-code-quality-report.json").read_text()) is not None


# -- finding the site -----------------------------------------------------------------------

def broken(folder: Path, name: str) -> None:
    """A site file with one problem on line 2, naming the file it came from."""
    (folder / name).write_text(f"name: {name}\nbogus: 1\n")


@pytest.mark.parametrize(("files", "args", "env", "used", "how"), [
    (("site.yaml",), (), {}, "site.yaml", "found in the current folder"),
    (("site.yaml", "rs-preflight.yaml"), (), {}, "rs-preflight.yaml",
     "found in the current folder"),
    (("site.yaml", "other.yaml"), (), {"RS_PREFLIGHT_SITE": "other.yaml"}, "other.yaml",
     "from RS_PREFLIGHT_SITE"),
    (("site.yaml", "other.yaml", "given.yaml"), ("--site", "given.yaml"),
     {"RS_PREFLIGHT_SITE": "other.yaml"}, "given.yaml", "(--site)"),
])
def test_finding_the_site(tmp_path: Path, files: tuple[str, ...], args: tuple[str, ...],
                          env: dict[str, str], used: str, how: str) -> None:
    for name in files:
        broken(tmp_path, name)
    proc = cli(tmp_path, *args, env=env)
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"rs-preflight: site {used} ") and how in first, first
    assert proc.returncode == 4  # the one chosen was validated, and is broken
    assert f"{used}:2: bogus: unknown key" in proc.stderr
    assert [n for n in files if n != used and f"{n}:2" in proc.stderr] == []


def test_no_site_file_says_this_machine_is_checked(tmp_path: Path) -> None:
    proc = cli(tmp_path, "-k", "RS-OS-01")
    first = proc.stdout.splitlines()[0]
    assert first.endswith("no ./rs-preflight.yaml or ./site.yaml: checking this machine")
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    assert doc["site"].endswith("(this machine)")


def test_site_from_stdin(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ITRP_SSL=false\n")  # relative to the current folder
    proc = cli(tmp_path, "--site", "-", "-k", "RS-ENV-03", stdin=ENV_ONLY.format(name="piped"))
    assert proc.stdout.splitlines()[0] == "rs-preflight: site description from stdin (--site -)"
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    assert doc["site"] == "piped"
    assert [(r["requirement"], r["outcome"]) for r in doc["results"]] == [
        ("RS-ENV-03", "failed")]
    assert proc.returncode == 1


def test_site_from_stdin_problems_name_stdin(tmp_path: Path) -> None:
    proc = cli(tmp_path, "--site", "-", stdin="name: piped\nbogus: 1\nprofile: huge\n")
    assert proc.returncode == 4
    assert "<stdin>:2: bogus: unknown key" in proc.stderr
    assert "<stdin>:3: profile: 'huge' is not one of" in proc.stderr


# -- init -----------------------------------------------------------------------------------

ENV_FILES = {".env": "ITRP_DOMAIN=rs.example.com\nITRP_SSL=true\n",
             ".env.web": "ITRP_TRUSTED_PROXIES=192.0.2.10/32\n",
             ".env.job": "CLACKS_PORT=993\nCLACKS_ENABLE_SSL=true\n",
             ".env.realtime": "FAYE_REDIS_HOST=192.0.2.31\n"}


def env_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "install"
    folder.mkdir()
    for name, text in ENV_FILES.items():
        (folder / name).write_text(text)
    return folder


def test_init_from_env_files_writes_a_valid_commented_site(tmp_path: Path) -> None:
    env = env_dir(tmp_path)
    proc = cli(tmp_path, "init", "--from-env", "install")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "rs-preflight.yaml"  # where the next run finds it
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert text.count("\n#") > 10  # commented
    site = load_site(path)
    assert site.name == "rs.example.com" and site.domain == "rs.example.com"
    assert [f.path for f in site.settings.files] == [env / n for n in ENV_FILES]
    assert site.settings.get("CLACKS_PORT", role="job") == "993"
    assert site.settings.get("CLACKS_PORT", role="app") is None
    again = cli(tmp_path, "init", "--from-env", "install")
    assert again.returncode == 4 and "exists (--force overwrites it)" in again.stderr
    assert cli(tmp_path, "init", "--from-env", "install", "--force").returncode == 0


def test_init_site_is_found_and_run(tmp_path: Path) -> None:
    env_dir(tmp_path)
    cli(tmp_path, "init", "--from-env", "install")
    proc = cli(tmp_path, "-k", "RS-ENV-03")
    assert proc.stdout.startswith("rs-preflight: site rs-preflight.yaml (found in the current")
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    assert [(r["requirement"], r["outcome"]) for r in doc["results"]] == [
        ("RS-ENV-03", "passed")]


def test_init_from_an_inventory(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text(textwrap.dedent("""\
        [app]
        app1 ansible_host=192.0.2.11 ansible_ssh_private_key_file=keys/app
        [job]
        job1 ansible_host=192.0.2.21 ansible_ssh_common_args='-o ConnectTimeout=3 -J ops@jump:22'
        """))
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "app").write_text("not a key\n")
    proc = cli(tmp_path, "init", "--inventory", "hosts.ini", "-o", "site/rs-preflight.yaml")
    assert proc.returncode == 0, proc.stderr
    site = load_site(tmp_path / "site" / "rs-preflight.yaml")
    hosts = {h.name: h for h in site.hosts}
    assert hosts["app1"].identity_file == tmp_path / "keys" / "app"
    assert hosts["job1"].jump_host == "ops@jump:22"
    assert hosts["job1"].roles == ("job",)


def test_init_prints_with_dash(tmp_path: Path) -> None:
    env_dir(tmp_path)
    proc = cli(tmp_path, "init", "--from-env", "install", "-o", "-")
    assert proc.returncode == 0 and "env_files:" in proc.stdout
    assert not (tmp_path / "rs-preflight.yaml").exists()
