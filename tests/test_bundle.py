"""The support bundle without hosts: redaction rules, the host script's framing, caps and
timeouts (the script runs here under ``sh``: it only reads), manifest and sha256, the self-scan
that aborts before anything is written, obfuscation with the map kept out of the bundle."""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import subprocess
import tarfile
from pathlib import Path

import pytest

from rs_preflight.bundle import BundleLeak, BundleOptions, Limits, collect, make_bundle
from rs_preflight.bundle import items as it
from rs_preflight.bundle.archive import BundleError, Member, write_bundle
from rs_preflight.bundle.build import assemble
from rs_preflight.bundle.collect import HostCollection
from rs_preflight.bundle.redaction import Obfuscator
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.redact import Redactor
from rs_preflight.spec.site import Site, load_site

PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
       "-----END PRIVATE KEY-----")


def canary(tag: str) -> str:
    return f"CANARY{tag}{secrets.token_hex(8)}"


def unique() -> str:
    """A canary whose 8-character prefix is its own (to look for prefixes)."""
    return "Q" + "".join(secrets.choice(string.ascii_letters + string.digits)
                         for _ in range(20))


@pytest.fixture
def site(tmp_path: Path) -> tuple[Site, str]:
    secret = canary("env")
    (tmp_path / ".env").write_text(f"ITRP_DOMAIN=rs.example.com\nDB_WRITER_PASSWORD={secret}\n"
                                   "DB_WRITER_HOST=192.0.2.41\n")
    (tmp_path / "site.yaml").write_text(
        "name: unit\nenv_files: [.env]\nhosts:\n"
        "  app1: {address: 192.0.2.11, roles: [app]}\n"
        "  db1: {address: 192.0.2.41, roles: [db]}\n")
    return load_site(tmp_path / "site.yaml"), secret


def frame(path: str, data: bytes, rc: int | None = 0, source: str = "") -> it.Frame:
    return it.Frame(path, source or path, data, rc, 0.01, None, False)


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        out = {}
        for info in tar:
            stream = tar.extractfile(info)
            assert stream is not None
            out[info.name.split("/", 1)[1]] = stream.read()
        return out


# -- redaction rules ------------------------------------------------------------------------

def test_rules_mask_each_kind_and_record_where_never_what() -> None:
    known, url_pw, arg_pw, custom = (canary(t) for t in ("k", "u", "a", "c"))
    opt1, opt2, opt3 = (canary(t) for t in ("o1", "o2", "o3"))
    text = (f"line one {known}\n{PEM}\n"
            f"DATABASE_URL=postgres://rs:{url_pw}@db:5432/rs\n"
            f"clacks --password={arg_pw} --verbose\n"
            f'{{"log":"token {known}\\n"}}\n'
            f"employee id EMP-{custom}\n"
            "net.ipv4.ipfrag_secret_interval = 600\n"
            f"clacks --api-token={opt1} --password {opt2} --passive yes bypass=on2\n"
            f"RABBIT_MQ_PASS={opt3} compass: north\n")
    redactor = Redactor([known], [r"EMP-(?P<mask>\S+)"])
    out, found = redactor.apply("hosts/app1/x.txt", text)
    for value in (known, url_pw, arg_pw, custom, "MIIEvQ", opt1, opt2, opt3):
        assert value not in out
    assert "--api-token=<redacted> --password <redacted> --passive yes bypass=on2" in out
    assert "RABBIT_MQ_PASS=<redacted> compass: north" in out
    assert "postgres://rs:<redacted>@db:5432/rs" in out
    assert "--password=<redacted> --verbose" in out
    assert "ipfrag_secret_interval = 600" in out       # numbers are not secrets
    by_rule = {r.rule: r for r in found}
    assert set(by_rule) == {"pem-private-key", "site-secret", "url-credentials",
                            "secret-assignment", "pattern-1"}
    assert by_rule["site-secret"].count == 2
    assert by_rule["pem-private-key"].lines == (2,)
    assert by_rule["url-credentials"].lines == (3,)    # lines of the redacted text
    assert by_rule["pattern-1"].lines == (6,)
    assert by_rule["secret-assignment"].lines == (4, 8, 9)
    record = json.dumps([r.to_dict() for r in found])
    for value in (known, url_pw, arg_pw, custom):
        assert value not in record


def test_site_secret_also_in_json_and_url_spelling() -> None:
    value = 'p@ss"word/1'
    out, _ = Redactor([value]).apply("m", '{"log":"pw p@ss\\"word/1"} url p%40ss%22word%2F1')
    assert "ss" not in out.replace("<redacted>", "")


def test_disabled_rule_is_off() -> None:
    value = canary("d")
    out, found = Redactor([value], disabled=frozenset({"site-secret"})).apply("m", value)
    assert out == value and not found


# -- the host script: framing, caps, timeouts (run here by sh; it only reads) -----------------

def run_script(items: list[it.Item], *, cap: int, timeout: float = 1.0) -> dict[str, it.Frame]:
    marker = f"@@rs-bundle-{secrets.token_hex(4)}@@"
    script = it.build_script(marker, items, [], ctx=None, item_timeout=timeout,
                             max_item_bytes=cap, log_lines=10, max_containers=2, docker=False)
    out = subprocess.run(["sh", "-c", it.remote_command(60, 10_000_000)], capture_output=True,
                         input=script.encode(), timeout=60, check=False).stdout
    return {f.path: f for f in it.parse(out, marker, cap)}


def test_caps_keep_the_newest_bytes_and_say_so(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(b"old\n" * 50_000 + b"newest line\n")
    frames = run_script([it.Item("small.txt", "echo hello"),
                         it.Item("big.txt", f"cat {log}"),
                         it._file("file.txt", str(log)),
                         it._file("absent.txt", str(tmp_path / "nope"))], cap=1000)
    assert frames["small.txt"].data == b"hello\n" and not frames["small.txt"].truncated
    big = frames["big.txt"]
    assert big.truncated and len(big.data) == 1000 and big.data.endswith(b"newest line\n")
    assert big.rc == 0 and big.duration_s is not None
    assert frames["file.txt"].source_size == log.stat().st_size
    assert frames["absent.txt"].rc == it.ABSENT


def test_a_hanging_command_is_ended_and_the_next_item_still_runs() -> None:
    frames = run_script([it.Item("hang.txt", "echo started; exec sleep 30"),
                         it.Item("after.txt", "echo after")], cap=1000)
    assert frames["hang.txt"].rc in it.TIMED_OUT
    assert frames["hang.txt"].data.startswith(b"started")
    assert frames["after.txt"].data == b"after\n"


def test_command_not_found_and_incomplete_frames() -> None:
    frames = run_script([it.Item("missing.txt", "no-such-command-rs")], cap=1000)
    assert frames["missing.txt"].rc == it.NOT_FOUND
    cut = it.parse(b"\n@@m@@ B 1.0 a.txt \nhalf", "@@m@@", 100)
    assert cut[0].rc is None and cut[0].data == b"half"


def test_user_values_are_quoted_in_the_script() -> None:
    items = it.static_items("'; touch /tmp/pwned; '")
    journal = next(i for i in items if i.path == "journal/chrony.txt")
    assert "--since ''\"'\"'; touch /tmp/pwned; '\"'\"''" in journal.command


# -- archive: manifest, sha256, self-scan -------------------------------------------------------

def test_manifest_matches_the_archive(site: tuple[Site, str], tmp_path: Path) -> None:
    s, secret = site
    results = tmp_path / "results.json"
    results.write_text('{"gate": "passed"}\n')
    app = HostCollection("app1", ("app",), "collected", frames=[
        frame("os/uname.txt", b"Linux app1 6.1\n"),
        frame("containers/0123456789ab-json.log", f'{{"log":"pw={secret}\\n"}}\n'.encode())],
        facts={"nproc": 4}, round_trips=1)
    db = HostCollection("db1", ("db",), "unreachable", reason="SSH connect to 192.0.2.41:22 "
                        "timed out after 5s")
    out = tmp_path / "b.tar.gz"
    summary = assemble(s, {"app1": app, "db1": db}, BundleOptions(out), [results])
    got = members(out)
    manifest = json.loads(got.pop("manifest.json"))
    listed = {e["path"]: e for e in manifest["items"]}
    assert set(listed) == set(got)
    for path, data in got.items():
        assert listed[path]["sha256"] == hashlib.sha256(data).hexdigest()
        assert listed[path]["size"] == len(data)
        assert secret.encode() not in data
    assert {"results/results.json", "site/site.yaml", "site/env/.env", "redactions.json",
            "hosts/app1/facts.json", "hosts/app1/os/uname.txt"} <= set(got)
    assert manifest["hosts"]["db1"]["status"] == "unreachable"
    assert {"host": "db1", "item": "*", "reason": db.reason} in manifest["not_collected"]
    assert summary.hosts == {"app1": "collected", "db1": "unreachable"}
    assert b"DB_WRITER_PASSWORD=<redacted>" in got["site/env/.env"]
    assert (out.stat().st_mode & 0o777) == 0o600


def test_self_scan_aborts_naming_the_file_and_writes_nothing(site: tuple[Site, str],
                                                             tmp_path: Path) -> None:
    s, _secret = site
    out = tmp_path / "b.tar.gz"
    # NAME=value in the .env is masked by two rules: switch both off
    options = BundleOptions(out, disabled_rules=frozenset({"site-secret", "secret-assignment"}))
    with pytest.raises(BundleLeak) as err:
        assemble(s, {}, options)
    assert err.value.member == "site/env/.env"
    assert "DB_WRITER_PASSWORD" in str(err.value) and _secret not in str(err.value)
    assert list(tmp_path.glob("b.tar.gz*")) == [] and list(tmp_path.glob(".b.tar.gz*")) == []


def test_canaries_the_rules_miss_abort_too(site: tuple[Site, str], tmp_path: Path) -> None:
    s, _ = site
    loose = canary("loose")
    app = HostCollection("app1", ("app",), "collected",
                         frames=[frame("os/uname.txt", f"welcome {loose}\n".encode())])
    with pytest.raises(BundleLeak, match=r"hosts/app1/os/uname.txt: contains a canary"):
        assemble(s, {"app1": app}, BundleOptions(tmp_path / "b.tar.gz", canaries=(loose,)))


def test_obfuscation_is_consistent_and_the_map_stays_outside(site: tuple[Site, str],
                                                             tmp_path: Path) -> None:
    s, _ = site
    app = HostCollection("app1", ("app",), "collected", frames=[
        frame("network/listening.txt", b"app1 192.0.2.11:443 peer 10.9.8.7 db1 192.0.2.41\n")])
    out = tmp_path / "b.tar.gz"
    summary = assemble(s, {"app1": app}, BundleOptions(out, obfuscate=True))
    got = members(out)
    blob = b"".join(got.values()) + b"".join(n.encode() for n in got)
    for real in (b"app1", b"db1", b"192.0.2.11", b"192.0.2.41", b"10.9.8.7", b"rs.example.com"):
        assert real not in blob
    assert summary.map_path is not None and summary.map_path.parent == out.parent
    mapping = json.loads(summary.map_path.read_text())
    text = got["hosts/host1/network/listening.txt"].decode()
    pseudo = {v: k for k, v in mapping.items()}
    assert text.split()[0] == pseudo["app1"] and pseudo["192.0.2.41"] in text
    assert (summary.map_path.stat().st_mode & 0o777) == 0o600


def test_obfuscator_keeps_loopback_and_non_addresses(site: tuple[Site, str]) -> None:
    obf = Obfuscator(site[0])
    assert obf("127.0.0.1 0.0.0.0 999.1.1.1 app10") == "127.0.0.1 0.0.0.0 999.1.1.1 app10"


def test_default_limits_are_documented() -> None:
    limits = Limits()
    assert (limits.max_item_bytes, limits.max_host_bytes) == (4 << 20, 32 << 20)
    assert (limits.item_timeout, limits.host_timeout, limits.log_lines) == (15, 180, 2000)


# -- integrity: what hosts print is data, never names ------------------------------------------

def test_command_lines_are_escaped_and_cut_only_after_redaction() -> None:
    args = [b"/bin/sh", b"clacks", b"line1\nline2\x1b[31m", b"--password", b"x" * 600]
    hexed = b"".join(a + b"\0" for a in args).hex()
    text = it.escape_command_lines(f"=== pid 7: hex:{hexed}\nName: clacks\n")
    line = text.splitlines()[0]
    assert line.startswith("=== pid 7: /bin/sh clacks line1\\nline2\\x1b[31m --password xxx")
    assert text.splitlines()[1] == "Name: clacks"
    cut = it.cut_command_lines(Redactor().apply("m", text)[0])
    assert cut.splitlines()[0] == ("=== pid 7: /bin/sh clacks line1\\nline2\\x1b[31m "
                                   "--password <redacted>")  # masked whole, then (not) cut
    long = it.cut_command_lines("=== pid 8: " + "y" * 500 + "\n")
    assert long == "=== pid 8: " + "y" * it.MAX_CMDLINE_CHARS + " [… cut]\n"


def test_a_header_counts_only_at_the_start_of_a_line() -> None:
    out = b"\n@@m@@ B 1.0 os/uname.txt \nLinux x @@m@@ B 1.0 ../../evil \n@@m@@ E 0 2.0 -\n"
    [frame] = it.parse(out, "@@m@@", 1000)
    assert frame.path == "os/uname.txt" and b"../../evil" in frame.data


def test_member_names_come_from_the_fixed_set() -> None:
    assert it.allowed_path("os/uname.txt") and it.allowed_path("@fact/nproc")
    assert it.allowed_path("containers/0123456789ab-json.log")
    for bad in ("../../../../tmp/x", "hosts/app1/../../x", "/etc/passwd", "os/motd.txt",
                "containers/../../x-json.log", "@fact/../x"):
        assert not it.allowed_path(bad), bad
    assert it.member_host("app1.example-2") == "app1.example-2"
    for bad in ("..", "a/b", "../x", "", ".hidden", "a..b"):
        with pytest.raises(ValueError):
            it.member_host(bad)


def test_forged_frame_in_a_process_arguments_names_no_member(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reproduction of issue 11: a local process whose arguments hold a frame header (the
    marker made known, as if read from ``ps``) once produced ``hosts/app1/../../../../…``."""
    marker = "@@rs-bundle-0123456789ab@@"
    monkeypatch.setattr(collect, "new_marker", lambda: marker)
    known, token, pw = (unique() for _ in range(3))
    (tmp_path / ".env").write_text(f"DB_WRITER_PASSWORD={known}\n")
    (tmp_path / "site.yaml").write_text("name: forged\nenv_files: [.env]\nsettings: "
                                        "{ITRP_SSL: true}\nhosts:\n"
                                        "  app1: {connection: local, roles: [db]}\n")
    clacks = tmp_path / "clacks"  # pgrep -x clacks: the processes item reports it
    clacks.write_text("#!/bin/sh\nwhile :; do sleep 1; done\n")
    clacks.chmod(0o755)
    forged = (f"x\n{marker} E 0 1.0 -\n{marker} B 1.0 ../../../../../{tmp_path.name}-evil "
              f"src\nforged content\n{marker} E 0 2.0 -\n")
    args = [f"--api-token={token}", "--password", pw, forged]
    shown = " ".join(["/bin/sh", str(clacks), *(it._escape(a.encode()) for a in args)])
    pad = "p" * (it.MAX_CMDLINE_CHARS - 10 - len(shown) - 1)  # the known value across the cut
    proc = subprocess.Popen([str(clacks), *args, pad, known])
    try:
        out = tmp_path / "b.tar.gz"
        # this machine's every dockerd/postgres/nginx… is reported (other labs' too): time
        limits = Limits(item_timeout=120, host_timeout=600)
        make_bundle(load_site(tmp_path / "site.yaml"), load_catalogue(),
                    BundleOptions(out, limits))
    finally:
        proc.kill()
        proc.wait(timeout=10)
    with tarfile.open(out) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "x", filter="data")  # would raise for a member outside
    assert all(".." not in n.split("/") and not n.startswith("/") for n in names)
    assert not (tmp_path.parent / f"{tmp_path.name}-evil").exists()
    root = names[0].split("/")[0]
    assert {n.split("/")[0] for n in names} == {root}
    got = members(out)
    report = got["hosts/app1/processes/rservice.txt"].decode()
    [line] = [ln for ln in report.splitlines() if str(clacks) in ln]
    assert f"--api-token=<redacted> --password <redacted> x\\n{marker} E 0 1.0" in line
    assert line.endswith("p <redacted>")  # across the cut: masked whole, never a prefix
    for path, data in got.items():
        for value in (known, token, pw):
            assert value[:8].encode() not in data, path
    assert not any("forged content" in n for n in names)


def test_the_archive_check_refuses_a_member_outside_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    with pytest.raises(BundleError, match=r"not a normalized path; no bundle was written"):
        write_bundle(out, "root", [Member("hosts/app1/../../../x", b"x")], {},
                     lambda data: None)
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_at_the_map_path_is_replaced_not_followed(site: tuple[Site, str],
                                                           tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "b.tar.gz"
    (tmp_path / "b.private-map.json").symlink_to(victim)
    summary = assemble(site[0], {}, BundleOptions(out, obfuscate=True))
    assert victim.read_text() == "keep me\n"
    assert summary.map_path is not None and not summary.map_path.is_symlink()
    assert (summary.map_path.stat().st_mode & 0o777) == 0o600
    assert (out.stat().st_mode & 0o777) == 0o600
