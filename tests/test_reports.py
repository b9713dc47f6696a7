"""Reports and gates: golden HTML/JUnit, the JUnit schema, the gate policy, waivers, baselines,
secrets — pure renderers first, then the plugin and the command end to end.

Golden files: ``tests/golden/report.html`` and ``junit.xml`` are rendered from
``tests/golden/results.json`` against ``baseline.json``; ``pytest --update-golden`` rewrites them.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from rs_preflight.report import finalize, render_html, render_junit
from rs_preflight.report.baseline import compare
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.redact import variants
from rs_preflight.spec.results import GatePolicy

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
XSD = HERE / "data" / "junit-10.xsd"
CANARY = "canary-Secr3t-0451-zz"
SITE_CANARY = "site-canary-Pw-77x1"


def golden_doc() -> dict[str, Any]:
    doc = json.loads((GOLDEN / "results.json").read_text())
    baseline = json.loads((GOLDEN / "baseline.json").read_text())
    return finalize(doc, GatePolicy(), baseline, "baseline.json")


@pytest.mark.parametrize(("name", "render"), [("report.html", render_html),
                                              ("junit.xml", render_junit)])
def test_golden(name: str, render: Any, update_golden: bool) -> None:
    text = render(golden_doc())
    path = GOLDEN / name
    if update_golden:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed: rerun with --update-golden"


@pytest.mark.parametrize("policy", [GatePolicy(), GatePolicy(strict=True),
                                    GatePolicy(allow_errors=True),
                                    GatePolicy(fail_on="new")])
def test_junit_is_valid_against_the_jenkins_schema(policy: GatePolicy) -> None:
    doc = json.loads((GOLDEN / "results.json").read_text())
    text = render_junit(finalize(doc, policy, json.loads((GOLDEN / "baseline.json").read_text())))
    xmlschema.XMLSchema(XSD).validate(text)


def one(element: ET.Element, path: str) -> ET.Element:
    """The sub-element at ``path``, which the test needs to be there."""
    found = element.find(path)
    assert found is not None, f"no {path} in {element.tag} {element.attrib}"
    return found


def test_junit_shape_warnings_visible_not_failing() -> None:
    root = ET.fromstring(render_junit(golden_doc()))
    suites = {s.get("name", "").split(" ", 2)[2]: s for s in root.iter("testsuite")}
    assert set(suites) == {"app1", "job1", "site", "warnings (do not fail the gate)"}
    app1 = suites["app1"]
    props = {p.get("name"): p.get("value") for p in app1.find("properties") or []}
    assert props["roles"] == "app" and props["phase"] == "pre" and props["site"] == "acme-prod"
    cases = {c.get("name", "").split(":")[0]: c for c in root.iter("testcase")}
    os01 = cases["RS-OS-01@app1"]
    assert one(os01, "failure").get("type") == "blocker"
    assert "remediation (guide §9.2): Install Ubuntu" in (one(os01, "failure").text or "")
    assert "severity: blocker" in (one(os01, "system-out").text or "")
    # a failed warning: a failure GitLab shows in a merge request, in a suite of its own
    # (named so), so the hosts' suites count exactly what fails the gate
    warn = one(cases["WARNING RS-LIMIT-01@job1"], "failure")
    assert warn.get("type") == "warning" and warn.get("message", "").startswith("WARNING (FAILED")
    assert "RS-LIMIT-01@job1" not in cases  # once, not twice
    warnings = suites["warnings (do not fail the gate)"]
    assert warnings.get("failures") == str(len(list(warnings.iter("testcase"))))
    doc = finalize(golden_doc(), GatePolicy())
    gate_counted = sum(int(s.get("failures", "")) + int(s.get("errors", ""))
                       for name, s in suites.items() if not name.startswith("warnings"))
    assert gate_counted == doc["counts"]["failed"] + doc["counts"]["error"] \
        == doc["gate_failures"]
    waived = one(cases["RS-OS-02@job1"], "skipped")
    assert waived.get("type") == "waived" and "sec-team" in waived.get("message", "")
    assert one(cases["RS-PORT-02@app1"], "error").get("type") == "could-not-check"
    assert (app1.get("failures"), app1.get("errors")) == ("1", "1")
    strict = ET.fromstring(render_junit(finalize(golden_doc(), GatePolicy(strict=True))))
    names = {c.get("name", "").split(":")[0]: c for c in strict.iter("testcase")}
    assert one(names["RS-LIMIT-01@job1"], "failure").get("type") == "warning"


def test_html_escapes_what_hosts_say_and_makes_no_request() -> None:
    html = render_html(golden_doc())
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)" in html
    assert "default-src 'none'" in html  # the page's CSP: no request can leave
    # no external resource of any kind: links are in-page anchors only
    assert re.findall(r"""\b(?:src|href)\s*=\s*(.)""", html) == ['"'] * html.count('href="#')
    assert "url(" not in html and "@import" not in html
    for text in ("acme-prod", "gate failed", "§9.2", "Install Ubuntu 24.04", "cat /etc/os-release",
                 "waived by sec-team until 2999-12-31", "expired on 2001-01-01",
                 "matched no check of this run", "new since the baseline"):
        assert text in html, text


def test_renderers_are_pure() -> None:
    doc = golden_doc()
    before = json.dumps(doc, sort_keys=True)
    assert render_html(doc) == render_html(doc) and render_junit(doc) == render_junit(doc)
    assert json.dumps(doc, sort_keys=True) == before


@pytest.mark.parametrize(("outcome", "severity", "policy", "baseline", "fails"), [
    ("failed", "blocker", GatePolicy(), None, True),
    ("error", "blocker", GatePolicy(), None, True),
    ("error", "blocker", GatePolicy(allow_errors=True), None, False),
    ("failed", "warning", GatePolicy(), None, False),
    ("failed", "warning", GatePolicy(strict=True), None, True),
    ("error", "warning", GatePolicy(strict=True), None, True),
    ("failed", "info", GatePolicy(strict=True), None, False),
    ("waived", "blocker", GatePolicy(), None, False),
    ("failed", "blocker", GatePolicy(fail_on="new"), "still", False),
    ("failed", "blocker", GatePolicy(fail_on="new"), "new", True),
    ("failed", "blocker", GatePolicy(), "still", True),
])
def test_gate_policy(outcome: str, severity: str, policy: GatePolicy, baseline: str | None,
                     fails: bool) -> None:
    assert policy.effect(outcome, severity, baseline)[0] is fails


def test_baseline_compare() -> None:
    now: list[dict[str, Any]] = [{"requirement": "A-B-1", "host": "h", "outcome": "failed"},
           {"requirement": "A-B-2", "host": "h", "outcome": "error"},
           {"requirement": "A-B-3", "host": None, "outcome": "passed"},
           {"requirement": "A-B-4", "host": "h", "outcome": "passed"}]
    before: list[dict[str, Any]] = [{"requirement": "A-B-2", "host": "h", "outcome": "failed"},
              {"requirement": "A-B-3", "host": None, "outcome": "error"},
              {"requirement": "A-B-4", "host": "h", "outcome": "passed"}]
    assert compare(now, before) == {"A-B-1@h": "new", "A-B-2@h": "still", "A-B-3": "fixed"}


# --- the waivers file -----------------------------------------------------------------------
def test_waivers_file_forms(tmp_path: Path) -> None:
    from rs_preflight.spec.waivers import load_waivers
    cat = load_catalogue()
    (tmp_path / "w.yaml").write_text(
        "- {requirement: RS-OS-02, hosts: [app1], reason: r, expires: 2030-01-01, by: me}\n")
    [w] = load_waivers(tmp_path / "w.yaml", cat, ["app1"])
    assert (w.requirement, w.hosts, w.by, w.source) == ("RS-OS-02", ("app1",), "me",
                                                        f"{tmp_path / 'w.yaml'}:1")
    (tmp_path / "m.yaml").write_text("waivers:\n  - {requirement: RS-OS-01, reason: r, "
                                     "expires: 2030-01-01}\n")
    assert load_waivers(tmp_path / "m.yaml", cat, [])[0].hosts == ()


def test_waivers_file_problems_all_at_once_with_lines(tmp_path: Path) -> None:
    from rs_preflight.spec.waivers import load_waivers
    path = tmp_path / "w.yaml"
    path.write_text("waivers:\n"
                    "  - {requirement: RS-NOPE-01, reason: r, expires: 2030-01-01}\n"
                    "  - {requirement: RS-OS-01, expires: 2030-12-01}\n"
                    "  - {requirement: RS-OS-01, reason: r, expires: 2030-01-01, hosts: [x9]}\n")
    with pytest.raises(SiteError) as info:
        load_waivers(path, load_catalogue(), ["app1"])
    text = str(info.value)
    assert f"{path}:2: waivers[0].requirement: unknown requirement ID 'RS-NOPE-01'" in text
    assert f"{path}:3: waivers[1]: 'reason' is required" in text
    assert f"{path}:4: waivers[2].hosts[0]: no host named 'x9' in the site" in text
    path.write_text("- {requirement: RS-OS-01, reason: r, expires: 2030-13-01}\n")
    with pytest.raises(SiteError, match=r"w.yaml:1: \[0\].expires: invalid value '2030-13-01'"):
        load_waivers(path, load_catalogue(), [])


# --- the plugin and the command end to end --------------------------------------------------
CHECKS = '''
import json, pathlib, pytest
from rs_preflight.spec.results import Verdict

def verdict(rs):
    key = rs.requirement.id + ("@" + rs.host.name if rs.host else "")
    table = json.loads(pathlib.Path("verdicts.json").read_text())
    outcome, *rest = table.get(key, ["passed", "fine"])
    return Verdict(outcome, *rest)

@pytest.mark.kind("os_supported")
def test_os(rs):
    return verdict(rs)

@pytest.mark.kind("no_processes")
def test_third_party(rs):
    return verdict(rs)

@pytest.mark.kind("env_https")
def test_https(rs):
    return verdict(rs)
'''

SITE = '''
name: gate-test
env_files: [.env]
settings: {SMTP_PASSWORD_env: RS_T_SMTP}
hosts:
  app1: {connection: local, roles: [app]}
  job1: {connection: local, roles: [job]}
waivers:
  - {requirement: RS-OS-02, hosts: [job1], reason: "agent by policy", expires: 2999-12-31,
     by: secops}
'''


REQUIREMENTS = ("RS-OS-01", "RS-OS-02", "RS-ENV-03")  # what CHECKS implement


@pytest.fixture
def gate(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, catalogue_of: Any) -> Any:
    pytester.makepyfile(test_checks=CHECKS)
    catalogue = str(catalogue_of(*REQUIREMENTS))  # a run of all CHECKS is complete
    pytester.makefile(".yaml", site=SITE)
    (pytester.path / ".env").write_text(f"ITRP_SSL=true\nDB_WRITER_PASSWORD={CANARY}\n")
    monkeypatch.setenv("RS_T_SMTP", SITE_CANARY)

    def go(verdicts: dict[str, list[str]], *args: str, out: str = "out"
           ) -> tuple[pytest.RunResult, dict[str, Any]]:
        (pytester.path / "verdicts.json").write_text(json.dumps(verdicts))
        result = pytester.runpytest("--rs-site", "site.yaml", "--rs-catalogue", catalogue,
                                    "--rs-json", f"{out}/results.json",
                                    "--rs-html", f"{out}/report.html",
                                    "--rs-junit", f"{out}/junit.xml", *args)
        path = pytester.path / out / "results.json"
        return result, json.loads(path.read_text()) if path.exists() else {}
    return go


BLOCKER = {"RS-OS-01@app1": ["failed", "Debian 12 is not supported", "Ubuntu", "Debian 12"]}
WARNING = {"RS-OS-02@app1": ["failed", "Xorg is running", "none", "Xorg"]}
ERROR = {"RS-OS-01@job1": ["error", "could not read /etc/os-release"]}


@pytest.mark.parametrize(("verdicts", "args", "code"), [
    ({}, (), 0),
    (BLOCKER, (), 1),
    (WARNING, (), 0),
    (WARNING, ("--rs-strict",), 1),
    (ERROR, (), 1),
    (ERROR, ("--rs-allow-errors",), 0),
    ({**BLOCKER, **ERROR}, ("--rs-allow-errors",), 1),
])
def test_exit_codes(gate: Any, verdicts: dict[str, list[str]], args: tuple[str, ...],
                    code: int) -> None:
    result, doc = gate(verdicts, *args)
    assert result.ret == code, result.stdout.str()
    assert doc["gate"] == ("failed" if code else "passed")
    assert doc["gate_policy"]["strict"] is ("--rs-strict" in args)


def test_waiver_statuses_everywhere(gate: Any, pytester: pytest.Pytester,
                                    catalogue_of: Any) -> None:
    (pytester.path / "more.yaml").write_text(
        "- {requirement: RS-OS-02, hosts: [app1], reason: old, expires: 2001-01-01}\n"
        "- {requirement: RS-OS-01, hosts: [job1], reason: legacy, expires: 2999-01-01}\n"
        "- {requirement: RS-LIMIT-03, reason: no realtime, expires: 2999-01-01}\n")
    with_limit = str(catalogue_of(*REQUIREMENTS, "RS-LIMIT-03"))  # no check implements it
    result, doc = gate({"RS-OS-02@job1": ["failed", "kesl is running"], **WARNING},
                       "--rs-waivers", "more.yaml", "--rs-catalogue", with_limit)
    status = {(w["requirement"], tuple(w["hosts"])): w["status"] for w in doc["waivers"]}
    assert status == {("RS-OS-02", ("job1",)): "active", ("RS-OS-02", ("app1",)): "expired",
                      ("RS-OS-01", ("job1",)): "unused", ("RS-LIMIT-03", ()): "unmatched"}
    assert doc["waivers"][1]["source"].endswith("more.yaml:1")
    records = {(r["requirement"], r["host"]): r for r in doc["results"]}
    assert records[("RS-OS-02", "job1")]["outcome"] == "waived"
    assert "waiver expired on 2001-01-01" in records[("RS-OS-02", "app1")]["message"]
    result.stdout.fnmatch_lines(["*waiver EXPIRED: RS-OS-02 on app1 (*more.yaml:1)*",
                                 "*waiver UNMATCHED: RS-LIMIT-03 (*more.yaml:3)*"])
    html = (pytester.path / "out/report.html").read_text()
    assert "unmatched" in html and "waived by secops until 2999-12-31" in html


def test_invalid_waivers_file_is_a_usage_error(gate: Any, pytester: pytest.Pytester) -> None:
    (pytester.path / "bad.yaml").write_text("- {requirement: RS-OS-02, expires: 2030-01-01}\n")
    result, _ = gate({}, "--rs-waivers", "bad.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid waivers file:*", "bad.yaml:1: [[]0[]]: 'reason' "
                                                            "is required"])


def test_baseline_new_fixed_still_and_fail_on_new(gate: Any, pytester: pytest.Pytester) -> None:
    gate({**BLOCKER, "RS-ENV-03": ["failed", "ITRP_SSL is false"]}, out="before")
    now = {**BLOCKER, "RS-OS-01@job1": ["failed", "RHEL 8 is not supported"]}
    result, doc = gate(now, "--rs-baseline", "before/results.json")
    assert (doc["baseline"]["new"], doc["baseline"]["fixed"], doc["baseline"]["still"]) == (
        ["RS-OS-01@job1"], ["RS-ENV-03"], ["RS-OS-01@app1"])
    result.stdout.fnmatch_lines(["*baseline before/results.json: 1 new, 1 fixed, 1 still*",
                                 "*NEW RS-OS-01@job1*"])
    assert result.ret == 1
    # only the known failure left: --fail-on new passes, the default does not
    result, doc = gate(BLOCKER, "--rs-baseline", "before/results.json", "--rs-fail-on", "new")
    assert result.ret == 0 and doc["gate"] == "passed"
    assert "already failing in the baseline" in (pytester.path / "out/report.html").read_text()
    result, _ = gate(BLOCKER, "--rs-baseline", "before/results.json")
    assert result.ret == 1


def test_fail_on_new_needs_a_baseline(gate: Any) -> None:
    result, _ = gate({}, "--rs-fail-on", "new")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rs-fail-on new needs --rs-baseline FILE*"])


def test_canary_secrets_in_no_report(gate: Any, pytester: pytest.Pytester) -> None:
    leak = {"RS-OS-01@app1": ["failed", f"found {CANARY}", "x", f"{SITE_CANARY}",
                              None, f"$ cat .env\nDB_WRITER_PASSWORD={CANARY}"]}
    result, _ = gate(leak)
    outputs = {"terminal": result.stdout.str() + result.stderr.str(),
               **{name: (pytester.path / "out" / name).read_text()
                  for name in ("results.json", "report.html", "junit.xml")}}
    for name, text in outputs.items():
        assert CANARY not in text and SITE_CANARY not in text, name
        assert "redacted" in text, name


def test_report_command_rerenders(gate: Any, pytester: pytest.Pytester) -> None:
    gate(BLOCKER, out="before")
    gate({**BLOCKER, **WARNING})
    cli = [sys.executable, "-m", "rs_preflight.cli", "report"]
    proc = subprocess.run([*cli, "out/results.json", "-o", "again"], cwd=pytester.path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert (pytester.path / "again/report.html").read_text() == \
        (pytester.path / "out/report.html").read_text()
    assert (pytester.path / "again/junit.xml").read_text() == \
        (pytester.path / "out/junit.xml").read_text()
    proc = subprocess.run([*cli, "out/results.json", "-o", "new", "--baseline",
                           "before/results.json", "--fail-on", "new"], cwd=pytester.path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "gate passed" in proc.stdout, proc.stdout + proc.stderr
    proc = subprocess.run([*cli, "out/results.json", "--strict", "-o", "strict"],
                          cwd=pytester.path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert 'type="warning"' in (pytester.path / "strict/junit.xml").read_text()
    proc = subprocess.run([*cli, "nope.json"], cwd=pytester.path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 4 and "cannot read" in proc.stderr


# --- canaries: one redactor for every output (issue 11) --------------------------------------
def token(n: int = 20) -> str:
    """A random canary whose 8-character prefix is its own (no shared CANARY… start)."""
    alphabet = string.ascii_letters + string.digits
    return "Q" + "".join(secrets.choice(alphabet) for _ in range(n))


CRASH_CHECK = '''
import json, logging, pathlib, pytest

def connect(url, password):  # pytest's traceback would print both arguments
    raise ValueError("cannot reach " + url)

@pytest.mark.kind("env_required")
def test_crash(rs):
    c = json.loads(pathlib.Path("canaries.json").read_text())
    logging.getLogger("rs_preflight.checks").warning("connecting with token=%s", c["log"])
    return connect(c["crash_url"], c["crash_arg"])
'''


def leaks(text: str, canaries: dict[str, str]) -> list[str]:
    """The canaries (or an 8-character prefix of any spelling of one) found in ``text``."""
    found = []
    for name, value in canaries.items():
        if any(v[:8] in text for v in variants(value) | {value}):
            found.append(name)
    return found


def test_canaries_in_every_place_reach_no_output(gate: Any, pytester: pytest.Pytester,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 catalogue_of: Any) -> None:
    c = {k: token() for k in ("known", "smtp", "rabbit", "es1", "es2", "faye", "hook",
                              "apitoken", "password", "dsn", "log", "crash_url", "crash_arg",
                              "cut", "unknown_url")}
    c["special"] = token(6) + '/p@ss"w%rd:' + token(6)  # JSON-escaped and URL-encoded below
    monkeypatch.setenv("RS_T_SMTP", c["smtp"])
    (pytester.path / ".env").write_text(
        f"ITRP_SSL=true\nDB_WRITER_PASSWORD={c['known']}\nRABBIT_MQ_PASS={c['rabbit']}\n"
        f"DB_READER_PASSWORD='{c['special']}'\n"
        f"ELASTICSEARCH_URLS=https://admin:{c['es1']}@search1:99999,"
        f"https://admin:{c['es2']}@127.0.0.1:1\n"
        f"FAYE_URL=http://faye:{c['faye']}@rt.example.com/faye\n")
    pytester.makefile(".yaml", site=SITE.replace(
        "settings: {SMTP_PASSWORD_env: RS_T_SMTP}",
        "settings: {SMTP_PASSWORD_env: RS_T_SMTP, ITRP_SSL: true, "
        f"RSERVICE_WEBHOOK_URL: 'https://hook:{c['hook']}@hooks.example.com/in'}}"))
    (pytester.path / "canaries.json").write_text(json.dumps(
        {**c, "crash_url": f"https://admin:{c['crash_url']}@search1:9200",
         "log": c["log"]}))
    pytester.makepyfile(test_crash=CRASH_CHECK)
    from rs_preflight.runner import EVIDENCE_MAX
    half = EVIDENCE_MAX // 2
    # a known value across the head cut, an unknown --password value across the tail cut
    evidence = ("$ ps -eo args\n" + "a" * (half - 24) + c["known"] + "b" * (half * 2)
                + f" --password {c['cut']} " + "c" * (half - 8))
    message = (f"clacks --api-token={c['apitoken']} --password {c['password']} "
               f"{json.dumps(c['special'])} {urllib.parse.quote(c['special'], safe='')} "
               f"DSN postgres://rs:{c['dsn']}@db/rs unknown https://u:{c['unknown_url']}@x")
    result, doc = gate({"RS-OS-01@app1": ["failed", message, "x", message, None, evidence]},
                       "--log-cli-level=WARNING", "-p", "no:randomly", "--rs-catalogue",
                       str(catalogue_of(*REQUIREMENTS, "RS-ENV-01")))  # + CRASH_CHECK's
    outputs = {"terminal": result.stdout.str() + result.stderr.str(),
               **{name: (pytester.path / "out" / name).read_text()
                  for name in ("results.json", "report.html", "junit.xml")}}
    # every place was reached: the crash, the log line, the URL settings, the evidence cut
    assert "the check crashed: ValueError: cannot reach https://admin:<redacted>@search1" in \
        outputs["results.json"]
    assert "connecting with token=<redacted>" in outputs["terminal"]
    assert "characters left out" in outputs["results.json"]
    hits = {name: leaks(text, c) for name, text in outputs.items()}
    assert hits == {name: [] for name in outputs}
    record = {(r["requirement"], r["host"]): r for r in doc["results"]}[("RS-OS-01", "app1")]
    assert "a<redacted>\n… (" in record["evidence"]  # masked whole, then cut
    assert "--api-token=<redacted> --password <redacted>" in record["message"]
