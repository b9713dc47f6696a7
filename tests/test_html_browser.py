"""The HTML report in a real headless Chromium (Debian's ``chromium``; ``scripts/setup``).

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: file
descriptors 3 and 4, NUL-terminated JSON messages), so the test needs no driver, no port and no
network at all. Every request the page makes is recorded (``Network.requestWillBeSent``); the
only one allowed is the report's own file:// URL. A screenshot of the filtered page is saved in
the test's tmp folder as an artefact.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rs_preflight.report import finalize, render_html
from rs_preflight.spec.results import GatePolicy

GOLDEN = Path(__file__).resolve().parent / "golden"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-extensions", "--no-default-browser-check",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe"]
WAIT_S = 60  # a stuck browser ends the test with an error; nothing asserts on durations


class Chromium:
    """One headless browser process and a tiny CDP client over its pipe."""

    def __init__(self, profile: Path) -> None:
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            raise RuntimeError("chromium is not installed (scripts/setup installs it)")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def fds() -> None:  # the browser reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], WAIT_S)
            if not ready:
                raise RuntimeError("chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_event(self, method: str) -> dict[str, Any]:
        seen = next((e for e in self.events if e.get("method") == method), None)
        while seen is None:
            event = self._read()
            self.events.append(event)
            seen = event if event.get("method") == method else None
        return seen

    def evaluate(self, expression: str) -> Any:
        got = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in got:
            raise RuntimeError(f"{expression}: {got['exceptionDetails']}")
        return got["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own process, by its handle
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    chromium = Chromium(tmp_path / "profile")
    try:
        [page] = [t for t in chromium.send("Target.getTargets")["targetInfos"]
                  if t["type"] == "page"]
        chromium.session = chromium.send("Target.attachToTarget", targetId=page["targetId"],
                                         flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            chromium.send(f"{domain}.enable")
        yield chromium
    finally:
        chromium.close()


VISIBLE_CARDS = """JSON.stringify(Array.from(document.querySelectorAll('#results .card'))
  .filter(c => c.offsetParent !== null).map(c => c.dataset.outcome + '@' + c.dataset.host))"""


def test_report_filters_in_chromium_without_any_request(browser: Chromium, tmp_path: Path
                                                        ) -> None:
    doc = json.loads((GOLDEN / "results.json").read_text())
    report = tmp_path / "report.html"
    report.write_text(render_html(finalize(doc, GatePolicy())), encoding="utf-8")
    url = report.as_uri()
    browser.send("Page.navigate", url=url)
    browser.wait_event("Page.loadEventFired")

    assert browser.evaluate("document.getElementById('verdict').textContent") == "gate failed"
    everything = json.loads(browser.evaluate(VISIBLE_CARDS))
    assert len(everything) == len(doc["results"])

    # click "passed" and "skipped" off: the problems remain, the rest is hidden
    browser.evaluate("document.querySelector('[data-filter-outcome=passed]').click()")
    browser.evaluate("document.querySelector('[data-filter-outcome=skipped]').click()")
    problems = json.loads(browser.evaluate(VISIBLE_CARDS))
    assert sorted(problems) == sorted(f"{r['outcome']}@{r['host'] or 'site'}"
                                      for r in doc["results"]
                                      if r["outcome"] not in ("passed", "skipped"))
    # then one host: its cards only, and the matrix shows its column only
    browser.evaluate("const s = document.getElementById('filter-host'); s.value = 'app1';"
                     "s.dispatchEvent(new Event('change'))")
    assert sorted(json.loads(browser.evaluate(VISIBLE_CARDS))) == [
        "error@app1", "failed@app1", "failed@app1"]
    columns = browser.evaluate("Array.from(document.querySelectorAll('#matrix thead th'))"
                               ".filter(t => t.offsetParent !== null).map(t => t.textContent)")
    assert columns == ["requirement", "guide", "app1"]
    # two clicks from the matrix to a failure's cause and fix: the cell links to its card
    target = browser.evaluate("""(() => {
        const a = document.querySelector('#matrix td.o-failed a'); a.click();
        const card = document.getElementById(a.getAttribute('href').slice(1));
        return card.offsetParent !== null && card.textContent.includes('fix'); })()""")
    assert target is True

    shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    (tmp_path / "report-filtered.png").write_bytes(base64.b64decode(shot["data"]))
    assert (tmp_path / "report-filtered.png").stat().st_size > 1000

    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(u == url for u in requests), requests


CARD_STATES = """JSON.stringify(Array.from(document.querySelectorAll('details.card'))
  .map(d => [d.dataset.outcome, d.classList.contains('soft'), d.open]))"""


def _show(browser: Chromium, path: Path, doc: dict[str, Any]) -> str:
    html = render_html(doc)
    path.write_text(html, encoding="utf-8")
    browser.send("Page.navigate", url=path.as_uri())
    browser.wait_event("Page.loadEventFired")
    browser.events.clear()
    return html


def _shot(browser: Chromium, path: Path) -> None:
    shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 1000


def healthy(doc: dict[str, Any]) -> dict[str, Any]:
    """The same site with every problem fixed."""
    results = [dict(r, outcome="passed" if r["outcome"] != "skipped" else "skipped",
                    message=r["message"] if r["outcome"] in ("passed", "skipped") else "fixed",
                    waiver=None) for r in doc["results"]]
    return {**doc, "results": results, "waivers": []}


def test_report_design_failing_healthy_and_print(browser: Chromium, tmp_path: Path) -> None:
    """Screenshots (failing.png, healthy.png, print.png in the test's tmp folder) of a narrow
    window: evidence wraps, problems first and grouped, passed and n/a cards folded."""
    browser.send("Emulation.setDeviceMetricsOverride", width=900, height=900,
                 deviceScaleFactor=1, mobile=False)
    raw = json.loads((GOLDEN / "results.json").read_text())
    doc = finalize(raw, GatePolicy())
    html = _show(browser, tmp_path / "failing.html", doc)

    # no sideways page scroll, although one evidence line is 700 characters without a space
    assert browser.evaluate("document.documentElement.scrollWidth <= "
                            "document.documentElement.clientWidth") is True
    # problems open, passed and not-applicable folded; a click on a folded card opens it
    for outcome, soft, is_open in json.loads(browser.evaluate(CARD_STATES)):
        assert is_open == (outcome not in ("passed", "skipped")), (outcome, soft)
    assert browser.evaluate("""(() => { const d = document.querySelector(
        'details.card[data-outcome=passed]'); d.querySelector('summary').click();
        return d.open; })()""") is True
    # failures grouped by requirement, hosts listed and linked
    problems = browser.evaluate("Array.from(document.querySelectorAll('#problems li'))"
                                ".map(li => li.textContent.replace(/\\s+/g, ' ').trim())")
    assert problems[0].startswith("FAILED (blocker) RS-OS-01") and "on app1" in problems[0]
    assert any(p.startswith("WARN RS-LIMIT-01") for p in problems)
    # the host table from the JSON hosts
    rows = browser.evaluate("Array.from(document.querySelectorAll('#hosts tbody tr'))"
                            ".map(tr => Array.from(tr.cells).map(c => c.textContent))")
    assert ["job1", "192.0.2.21", "job", "Ubuntu 24.04.1 LTS", "yes", "6", "0.30 s"] in rows
    assert ["db1", "192.0.2.41", "db", "", "network only", "", ""] in rows
    # counts as in the terminal and the JSON; no node IDs, no internal markers
    counts = browser.evaluate("Object.fromEntries(Array.from(document.querySelectorAll("
                              "'#counts [data-category]')).map(s => [s.dataset.category, "
                              "Number(s.querySelector('.tag').textContent)]))")
    assert counts == doc["counts"] and counts["failed"] + counts["error"] == 2
    assert "@@" not in html and not any(r["id"] in html for r in doc["results"])
    _shot(browser, tmp_path / "failing.png")

    _show(browser, tmp_path / "healthy.html", finalize(healthy(raw), GatePolicy()))
    assert browser.evaluate("document.getElementById('verdict').textContent") == "gate passed"
    assert browser.evaluate("document.getElementById('problems')") is None
    assert browser.evaluate("document.querySelectorAll('details.card[open]').length") == 0
    _shot(browser, tmp_path / "healthy.png")

    _show(browser, tmp_path / "print.html", doc)
    browser.send("Emulation.setEmulatedMedia", media="print")
    assert browser.evaluate("getComputedStyle(document.getElementById('filters')).display") \
        == "none"
    assert browser.evaluate("document.documentElement.scrollWidth <= "
                            "document.documentElement.clientWidth") is True
    _shot(browser, tmp_path / "print.png")
    pdf = browser.send("Page.printToPDF", printBackground=True)
    (tmp_path / "print.pdf").write_bytes(base64.b64decode(pdf["data"]))


def test_incomplete_run_is_never_shown_as_passed(browser: Chromium, tmp_path: Path) -> None:
    raw = json.loads((GOLDEN / "results.json").read_text())
    doc = {**finalize(healthy(raw), GatePolicy()), "gate": "incomplete", "interrupted": True,
           "not_run": ["RS-TIME-01@app1", "RS-TIME-01@job1"]}
    _show(browser, tmp_path / "incomplete.html", doc)
    assert browser.evaluate("document.getElementById('verdict').textContent") == \
        "gate incomplete"
    assert "2 check(s) did not run" in browser.evaluate(
        "document.getElementById('incomplete').textContent")
