"""The support bundle against real namespace hosts over SSH (issue 8).

Two sites share an app host (bapp84, real dockerd):
- healthy: bapp84 [app] + bdb87 [db], bundled by a normal run with ``--rs-bundle``;
- broken: bapp84 + bjob85 [job] whose ``docker`` hangs (a fake ``docker`` script earlier in
  PATH: ``exec sleep``) + brt86 [realtime], powered off (``LabHost.stop()``), bundled by
  ``rs-preflight bundle``.

There are no real containers: container logs are files where Docker's json-file driver keeps
them, ``/var/lib/docker/containers/<id>/<id>-json.log``, which is what the collector reads
(as ``docker logs`` does). One of them is 50 MB. Canary secrets are planted in the .env file
(known to the site), in container logs, in a file a collector cats (daemon.json, a sysctl.d
file) and in command output (a process's arguments — ``--password=…``, ``--api-token=…``,
``--password VALUE``, a known value across the 400-character cut — shown by ``ps`` and the
process report): none, nor its 8-character prefix, may appear in either archive, the run's
reports or its stdout/stderr. A forged frame header in a process's arguments names no member.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from rs_lab.hosts import HostLab, HostSpec, LabHost, os_release
from rs_lab.indices import Lease
from rs_preflight.bundle import BundleLeak, BundleOptions, Limits, collect, make_bundle
from rs_preflight.bundle import items as it
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.site import load_site

pytestmark = pytest.mark.lab

MIB = 1024 * 1024
# "Q" + random hex: each canary's 8-character prefix is its own (the tests look for prefixes)
CANARY = {k: f"Q{secrets.token_hex(10)}{k}" for k in
          ("envpw", "envkey", "urlpw", "smtppw", "argpw", "mirrorpw", "sysctlpw", "apitoken",
           "optpw", "rabbit")}
CLACKS_ARGS = [f"--password={CANARY['argpw']}", CANARY["envpw"],
               f"--api-token={CANARY['apitoken']}", "--password", CANARY["optpw"]]
LOG_ID = secrets.token_hex(32)
BIG_ID = secrets.token_hex(32)
HANG = "#!/bin/sh\nexec sleep 600\n"  # a docker CLI whose daemon never answers
CLACKS = "#!/bin/sh\nsleep 100000\n"  # no exec: the process keeps its name and arguments


def container_log(lines: list[str]) -> str:
    return "".join(json.dumps({"log": line + "\n", "stream": "stdout",
                               "time": "2026-11-30T07:00:00.000000000Z"}) + "\n"
                   for line in lines)


def specs(lease: Lease) -> list[HostSpec]:
    ubuntu = os_release("ubuntu", "24.04")
    log = container_log([
        "rs_app booted",
        f"connected to the database with {CANARY['envpw']}",               # known to the site
        f"DATABASE_URL=postgres://rs:{CANARY['urlpw']}@db:5432/rservice",  # not known
        f"mail settings SMTP_PASSWORD={CANARY['smtppw']} port=587"])
    return [
        HostSpec("bapp84", lease.take(), ubuntu, services=["docker"], extra_files={
            f"/var/lib/docker/containers/{LOG_ID}/{LOG_ID}-json.log": log,
            "/etc/sysctl.d/99-rservice.conf":
                f"# backup to s3://rs:{CANARY['sysctlpw']}@backup.lab\nfs.file-max = 2097152\n",
            "/usr/local/bin/clacks": CLACKS}),
        HostSpec("bjob85", lease.take(), ubuntu, extra_files={
            "/usr/local/bin/docker": HANG,
            "/etc/docker/daemon.json": json.dumps({"registry-mirrors": [
                f"https://rs:{CANARY['mirrorpw']}@mirror.lab"]})}),
        HostSpec("brt86", lease.take(), ubuntu),
        HostSpec("bdb87", lease.take(), ubuntu),
    ]


@pytest.fixture(scope="module")
def hosts(host_lab: HostLab, lab_lease: Lease) -> dict[str, LabHost]:
    got = {h.name: h for h in host_lab.add_many(specs(lab_lease))}
    app = got["bapp84"]
    # extra_files are 0644: make the scripts executable (setup, inside the host)
    app.run("chmod 755 /usr/local/bin/clacks", check=True)
    got["bjob85"].run("chmod 755 /usr/local/bin/docker", check=True)
    # a known value across the bundle's 400-character cut of command lines
    shown = " ".join(["/bin/sh", "/usr/local/bin/clacks", *CLACKS_ARGS])
    pad = "p" * (it.MAX_CMDLINE_CHARS - 6 - len(shown) - 2)
    args = " ".join(shlex.quote(a) for a in [*CLACKS_ARGS, pad, CANARY["envkey"]])
    app.run(f"nohup /usr/local/bin/clacks {args} >/dev/null 2>&1 &", check=True)
    big = f"/var/lib/docker/containers/{BIG_ID}/{BIG_ID}-json.log"
    app.run(f"mkdir -p /var/lib/docker/containers/{BIG_ID} && python3 -c "
            "\"import json,sys; f=open(sys.argv[1],'w'); line=json.dumps({'log':'x'*10200+"
            "'\\\\n','stream':'stdout'})+'\\n'; [f.write(line) for _ in range(5000)]; "
            "f.write(json.dumps({'log':'last SMTP_PASSWORD='+sys.argv[2]+'\\\\n'})+'\\n')\" "
            f"{big} {CANARY['smtppw']}", check=True)
    return got


def write_site(folder: Path, lab: HostLab, hosts: dict[str, LabHost], roles: dict[str, str]
               ) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".env").write_text(f"ITRP_DOMAIN=bundle.lab\nDB_WRITER_PASSWORD={CANARY['envpw']}"
                                 f"\nSECRET_KEY_BASE={CANARY['envkey']}\n"
                                 f"RABBIT_MQ_PASS={CANARY['rabbit']}\nITRP_SSL=true\n")
    lines = ["name: bundle-lab", "profile: small", "env_files: [.env]",
             "settings: {ITRP_SSL: true}", "ssh:", "  user: root",
             f"  identity_file: {lab.identity_file}", f"  known_hosts: {lab.known_hosts}",
             "  connect_timeout: 3", "  command_timeout: 10", "hosts:"]
    lines += [f"  {n}: {{address: {hosts[n].ipv4}, roles: [{r}]}}" for n, r in roles.items()]
    path = folder / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def read(archive: Path) -> tuple[dict[str, bytes], list[str]]:
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        out = {}
        for info in tar:
            stream = tar.extractfile(info)
            assert stream is not None
            out[info.name.split("/", 1)[1]] = stream.read()
    return out, names


def rs_preflight(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rs_preflight.cli", *args], cwd=folder,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def healthy(hosts: dict[str, LabHost], host_lab: HostLab,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("bundle-healthy")
    site = write_site(folder, host_lab, hosts, {"bapp84": "app", "bdb87": "db"})
    out = folder / "healthy.tar.gz"
    proc = rs_preflight(folder, "--site", str(site), "-k", "RS-OS", "--rs-bundle", str(out))
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    members, names = read(out)
    reports = list((folder / "rs-preflight-report").iterdir())
    assert {p.name for p in reports} >= {"results.json", "report.html", "junit.xml"}
    return {"proc": proc, "members": members, "names": names, "site": site, "folder": folder,
            "manifest": json.loads(members["manifest.json"]), "reports": reports}


@pytest.fixture(scope="module")
def broken(hosts: dict[str, LabHost], host_lab: HostLab,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("bundle-broken")
    site = write_site(folder, host_lab, hosts,
                      {"bapp84": "app", "bjob85": "job", "brt86": "realtime"})
    hosts["brt86"].stop()
    out = folder / "broken.tar.gz"
    proc = rs_preflight(folder, "bundle", "--site", str(site), "-k", "RS-OS", "-o", str(out),
                        "--item-timeout", "3")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    members, names = read(out)
    return {"proc": proc, "members": members, "names": names,
            "manifest": json.loads(members["manifest.json"])}


def assert_no_canary(bundle: dict[str, Any]) -> None:
    """No canary, nor its 8-character prefix, in a member's name or bytes, in the run's
    stdout/stderr or in any report file it wrote beside the bundle."""
    places = {f"member {p}": d for p, d in bundle["members"].items()}
    places["member names"] = "\n".join(bundle["names"]).encode()
    places["stdout"] = bundle["proc"].stdout.encode()
    places["stderr"] = bundle["proc"].stderr.encode()
    for report in bundle.get("reports", []):
        places[str(report)] = report.read_bytes()
    hits = [(name, where) for name, value in CANARY.items() for where, data in places.items()
            if value[:8].encode() in data]
    print(f"canaries: {len(CANARY)} planted, {len(places)} places checked, {len(hits)} hits")
    assert hits == [], hits


def assert_manifest_matches(bundle: dict[str, Any]) -> None:
    members = dict(bundle["members"])
    members.pop("manifest.json")
    listed = {e["path"]: e for e in bundle["manifest"]["items"]}
    assert set(listed) == set(members)
    for path, data in members.items():
        assert listed[path]["sha256"] == hashlib.sha256(data).hexdigest(), path
        assert listed[path]["size"] == len(data), path


def test_healthy_site_bundle_has_every_host_and_the_run(healthy: dict[str, Any]) -> None:
    manifest, members = healthy["manifest"], healthy["members"]
    assert "bundle written" in healthy["proc"].stdout
    assert {n: h["status"] for n, h in manifest["hosts"].items()} == {
        "bapp84": "collected", "bdb87": "collected"}
    assert all(h["round_trips"] == 1 for h in manifest["hosts"].values())
    for path in ("results/results.json", "results/junit.xml", "site/site.yaml", "site/env/.env",
                 "redactions.json", "hosts/bapp84/os/uname.txt", "hosts/bapp84/docker/info.txt",
                 "hosts/bapp84/sysctl/all.txt", "hosts/bapp84/processes/rservice.txt",
                 "hosts/bapp84/facts.json", "hosts/bdb87/disks/df.txt",
                 f"hosts/bapp84/containers/{LOG_ID[:12]}-json.log"):
        assert path in members, path
    assert "hosts/bdb87/docker/info.txt" not in members  # db is not a Docker role
    assert b"Server Version" in members["hosts/bapp84/docker/info.txt"]
    assert b"=== pid" in members["hosts/bapp84/processes/rservice.txt"]
    assert b"Max open files" in members["hosts/bapp84/processes/rservice.txt"]
    assert b"rs_app booted" in members[f"hosts/bapp84/containers/{LOG_ID[:12]}-json.log"]
    assert json.loads(members["results/results.json"])["results"]


def test_healthy_bundle_has_no_canary_and_says_what_it_redacted(healthy: dict[str, Any]
                                                                ) -> None:
    assert_no_canary(healthy)
    redactions = json.loads(healthy["members"]["redactions.json"])
    rules = {(r["member"], r["rule"]) for r in redactions["redactions"]}
    log = f"hosts/bapp84/containers/{LOG_ID[:12]}-json.log"
    assert {(log, "site-secret"), (log, "url-credentials"), (log, "secret-assignment"),
            ("hosts/bapp84/os/ps.txt", "secret-assignment"),
            ("hosts/bapp84/processes/rservice.txt", "secret-assignment"),
            ("hosts/bapp84/processes/rservice.txt", "site-secret"),
            ("hosts/bapp84/sysctl/persisted.txt", "url-credentials"),
            ("site/env/.env", "site-secret")} <= rules
    assert redactions["self_scan"]["known_values"] >= 2


def test_healthy_manifest_matches_the_archive(healthy: dict[str, Any]) -> None:
    assert_manifest_matches(healthy)
    items = {e["path"]: e for e in healthy["manifest"]["items"]}
    uname = items["hosts/bapp84/os/uname.txt"]
    assert (uname["host"], uname["source"], uname["exit_code"]) == ("bapp84", "uname -a", 0)
    assert uname["duration_s"] is not None and uname["truncated"] is False


def test_a_50mb_log_is_cut_to_the_item_cap(healthy: dict[str, Any]) -> None:
    entry = next(e for e in healthy["manifest"]["items"]
                 if e["path"] == f"hosts/bapp84/containers/{BIG_ID[:12]}-json.log")
    assert entry["truncated"] is True
    assert entry["collected_size"] == Limits().max_item_bytes
    assert entry["source_size"] > 50 * 1000 * 1000
    data = healthy["members"][f"hosts/bapp84/containers/{BIG_ID[:12]}-json.log"]
    assert b"last SMTP_PASSWORD=<redacted>" in data  # the newest lines are the ones kept


def test_journal_is_collected_or_said_unavailable(healthy: dict[str, Any]) -> None:
    missing = {(m["host"], m["item"]): m["reason"] for m in healthy["manifest"]["not_collected"]}
    for host in ("bapp84", "bdb87"):
        if f"hosts/{host}/journal/chrony.txt" not in healthy["members"]:
            assert missing[(host, "journal/chrony.txt")].startswith("not available")


def test_site_with_a_host_down_gives_a_partial_bundle(broken: dict[str, Any]) -> None:
    hosts = broken["manifest"]["hosts"]
    assert hosts["brt86"]["status"] == "unreachable"
    assert "brt86" in broken["proc"].stdout
    reasons = [m for m in broken["manifest"]["not_collected"] if m["host"] == "brt86"]
    assert reasons and "SSH connect" in reasons[0]["reason"]
    assert hosts["bapp84"]["status"] == "collected"
    assert "hosts/bapp84/os/uname.txt" in broken["members"]
    assert not any(p.startswith("hosts/brt86/") for p in broken["members"])
    errors = [r for r in json.loads(broken["members"]["results/results.json"])["results"]
              if r["host"] == "brt86"]
    assert errors and all(r["outcome"] == "error" for r in errors)
    assert_manifest_matches(broken)
    assert_no_canary(broken)


def test_a_hanging_docker_costs_one_timeout_and_is_said(broken: dict[str, Any]) -> None:
    missing = {m["item"]: m["reason"] for m in broken["manifest"]["not_collected"]
               if m["host"] == "bjob85"}
    for item in ("docker/version.txt", "docker/info.txt", "docker/ps.txt"):
        assert missing[item] == "skipped: docker version did not answer within 3s"
    assert broken["manifest"]["hosts"]["bjob85"]["status"] == "collected"
    # files need no daemon: daemon.json is there, its mirror password redacted
    assert b"https://rs:<redacted>@mirror.lab" in broken["members"]["hosts/bjob85/docker/"
                                                                    "daemon.json"]


def test_self_scan_catches_what_a_disabled_rule_let_through(
        healthy: dict[str, Any], tmp_path: Path) -> None:
    site = load_site(healthy["site"])
    out = tmp_path / "leak.tar.gz"
    options = BundleOptions(out, disabled_rules=frozenset({"site-secret"}),
                            canaries=tuple(CANARY.values()))
    with pytest.raises(BundleLeak) as err:
        make_bundle(site, load_catalogue(), options)
    assert err.value.member.startswith("hosts/bapp84/"), err.value.member
    assert CANARY["envpw"] not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no archive, no temp file


def test_command_lines_are_escaped_redacted_then_cut(healthy: dict[str, Any]) -> None:
    report = healthy["members"]["hosts/bapp84/processes/rservice.txt"].decode()
    [line] = [ln for ln in report.splitlines() if "/usr/local/bin/clacks" in ln]
    assert ("--password=<redacted> <redacted> --api-token=<redacted> --password <redacted> "
            "ppp") in line
    assert line.endswith("p <redacted>")  # the value across the cut: whole, never a prefix


def test_a_forged_frame_on_a_lab_host_names_no_member(
        hosts: dict[str, LabHost], healthy: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11's reproduction on a real host over SSH: a process's arguments hold a frame
    header with the run's marker (made known here, as if read from ps)."""
    marker = "@@rs-bundle-0123456789ab@@"
    monkeypatch.setattr(collect, "new_marker", lambda: marker)
    forged = (f"x\n{marker} E 0 1.0 -\n{marker} B 1.0 ../../../../../../tmp/rs-forged src\n"
              f"forged\n{marker} E 0 2.0 -\n{marker} B 1.0 os/uname.txt src\nnot uname\n")
    app = hosts["bapp84"]
    pid = app.run(f"nohup /usr/local/bin/clacks {shlex.quote(forged)} >/dev/null 2>&1 & "
                  "echo $!", check=True).stdout.strip()
    try:
        out = tmp_path / "forged.tar.gz"
        make_bundle(load_site(healthy["site"]), load_catalogue(), BundleOptions(out))
    finally:
        app.run(f"kill {int(pid)}")  # the process this test started, by PID
    members, names = read(out)
    root = names[0].split("/")[0]
    assert all(n.startswith(f"{root}/") and ".." not in n.split("/") for n in names)
    with tarfile.open(out) as tar:
        tar.extractall(tmp_path / "x", filter="data")  # raises for a member outside
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [root]
    assert not any("rs-forged" in n for n in names)
    assert members["hosts/bapp84/os/uname.txt"].startswith(b"Linux")
    report = members["hosts/bapp84/processes/rservice.txt"].decode()
    assert f"x\\n{marker} E 0 1.0 -\\n{marker} B 1.0 ../../" in report  # escaped data
