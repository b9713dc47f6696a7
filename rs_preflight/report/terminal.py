"""rs-preflight's terminal: pytest's ``TerminalReporter`` speaking in requirements and hosts.

Registered by the plugin in place of pytest's own (``pytest_configure``), it changes nothing
for other test suites. In an rs-preflight run (``--rs-site``, or the shipped checks collected)
and without ``-v``:

- no pytest header, no file paths: one line per check, ``RS-OS-01@app1 Supported operating
  system …… FAILED (blocker)`` / ``WARN`` / ``ERROR`` / ``n/a`` / ``waived`` / ``passed``
  (``-q``: only the ones that are not passed or n/a);
- on a terminal, a status line says what the running check is waiting for ("gathering facts
  from 7 host(s)…", "waiting for the mail round trip (up to 60 s)"); in a CI log that is a line
  of its own;
- the summary groups identical results across hosts (``RS-OS-01 … on app1, app2, job1``), then
  one line per host, waivers and baseline;
- pytest's counts line counts what the gate counts (``report.counts``: *warned* is not
  *failed*) and its colour is the gate's; the last lines are the coloured gate verdict and the
  paths of the reports written.

With ``-v`` pytest's header, node IDs and failure sections come back, followed by the same
summary. Under xdist the controller's reporter prints everything (the records travel with the
reports).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _pytest.terminal import KNOWN_TYPES, TerminalReporter

from rs_preflight.report.counts import CATEGORIES, category, counts, counts_text, word

MARKER = re.compile(r"@@(\w+)@@")  # internal markers of fact commands, never shown
ORDER = ("failed", "error", "warned", "waived")
GATE_MARKUP = {"failed": {"red": True, "bold": True}, "passed": {"green": True, "bold": True},
               "incomplete": {"yellow": True, "bold": True}}


def clean(text: str) -> str:
    """Text for people: internal markers (``@@absent@@``) become words."""
    return MARKER.sub(lambda m: f"({m.group(1)})", text)


def label(nodeid: str) -> str:
    """``checks/test_os.py::test_supported_os[RS-OS-01@app1]`` → ``RS-OS-01@app1``."""
    return nodeid.rsplit("[", 1)[-1].rstrip("]") if nodeid.endswith("]") else nodeid


def groups(records: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], list[str]]]:
    """Identical results on several hosts, once: (first record, hosts), worst first."""
    found: dict[tuple[Any, ...], tuple[Mapping[str, Any], list[str]]] = {}
    for r in records:
        cat = category(r)
        if cat not in ORDER:
            continue
        k = (cat, r["requirement"], word(r), r.get("message"), r.get("expected"), r.get("found"))
        found.setdefault(k, (r, []))[1].append(r.get("host") or "site")
    return sorted(found.values(), key=lambda g: (ORDER.index(category(g[0])),
                                                 g[0]["requirement"]))


def summary_lines(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, bool]]]:
    """The summary section's lines (text, markup) for a finalized document."""
    colour = {"failed": "red", "error": "red", "warned": "yellow", "waived": "cyan"}
    for first, hosts in groups(doc["results"]):
        where = ", ".join(hosts)
        yield (f"{word(first)}  {first['requirement']} {first.get('title') or ''} · {where}",
               {colour[category(first)]: True, "bold": True})
        message = clean(first.get("message") or "").strip()
        for line in message.splitlines()[:6]:
            yield f"    {line}", {}
        if first.get("expected") or first.get("found"):
            yield (f"    expected: {clean(first.get('expected') or '-')}   "
                   f"found: {clean(first.get('found') or '-')}"), {}
        if first.get("remediation") and category(first) in ("failed", "error", "warned"):
            yield f"    fix (guide §{first.get('guide_section')}): {first['remediation']}", {}
    yield from _host_lines(doc)
    for w in doc.get("waivers") or []:
        if w.get("status") != "active":
            on = f" on {','.join(w['hosts'])}" if w.get("hosts") else ""
            yield (f"waiver {w['status'].upper()}: {w['requirement']}{on} "
                   f"({w.get('source')}): {w.get('note')}", {"yellow": True})
    if doc.get("baseline"):
        b = doc["baseline"]
        yield (f"baseline {b['file']}: {len(b['new'])} new, {len(b['fixed'])} fixed, "
               f"{len(b['still'])} still failing"), {}
        for k in b["new"]:
            yield f"    NEW {k}", {"red": True}
    for w in doc.get("warnings") or []:  # run warnings (e.g. a weakened host-key policy)
        yield f"WARNING {w.get('kind', 'warning')}: {w.get('message', '')}", {"yellow": True}
    for reason in doc.get("incomplete_reasons") or []:  # completeness.py
        yield f"INCOMPLETE: {reason}", {"yellow": True, "bold": True}


def _host_lines(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, bool]]]:
    by_host: dict[str, list[Mapping[str, Any]]] = {}
    for r in doc["results"]:
        by_host.setdefault(r.get("host") or "site", []).append(r)
    info: Mapping[str, Mapping[str, Any]] = doc.get("hosts") or {}
    width = max((len(h) for h in by_host), default=4)
    for host in sorted(by_host):
        h = info.get(host, {})
        about = [h.get("address"), h.get("os")]
        if h.get("reachable") is False:
            about.append(f"unreachable: {h.get('error')}")
        elif h.get("round_trips"):
            seconds = float(h.get("gather_s") or 0)
            about.append(f"{h['round_trips']} round trip(s), {seconds:.2f} s")
        extra = " · ".join(str(a) for a in about if a)
        yield (f"  {host:<{width}}  {counts_text(counts(by_host[host]))}"
               f"{'   (' + extra + ')' if extra else ''}"), {}


def gate_line(doc: Mapping[str, Any], policy: str) -> tuple[str, dict[str, bool]]:
    """The verdict, coloured: passed, FAILED or INCOMPLETE (never "passed" when incomplete)."""
    gate = doc.get("gate", "passed")
    numbers = doc.get("counts") or counts(doc["results"])
    failing = numbers["failed"] + numbers["error"]
    if gate == "incomplete":
        not_run = doc.get("not_run") or []
        why = (f"{len(not_run)} check(s) did not run" if not_run else
               "; ".join(r.split(": ", 1)[0]  # the reasons' lists are in the lines above
                         for r in doc.get("incomplete_reasons") or ["not every check ran"]))
        text = (f"gate: INCOMPLETE — {why}"
                f"{', INTERRUPTED' if doc.get('interrupted') else ''}; "
                f"{failing} result(s) fail the gate so far")
    elif gate == "failed":
        text = f"gate: FAILED — {failing} result(s) fail the gate ({policy})"
        if doc.get("complete") is False:
            text += " — and the run is INCOMPLETE"
    else:
        soft = f"; {numbers['warned']} warned, not gating" if numbers["warned"] else ""
        text = f"gate: passed ({policy}: none{soft})"
    return text, GATE_MARKUP.get(gate, GATE_MARKUP["incomplete"])


# pytest marks TerminalReporter final for typing; replacing "terminalreporter" with a subclass
# is how pytest-sugar and pytest-pretty extend it, and what keeps every other hook as it was.
class PreflightTerminal(TerminalReporter):  # type: ignore[misc]
    """pytest's terminal reporter with rs-preflight's lines (see the module docstring)."""

    def __init__(self, config: pytest.Config, doc: Callable[[], Mapping[str, Any] | None],
                 policy: Callable[[], str], titles: Callable[[str], str]) -> None:
        super().__init__(config)
        self._doc, self._policy, self._titles = doc, policy, titles
        self._lock = threading.Lock()
        self._running = ""
        self.rs_run = config.getoption("rs_site", None) is not None or any(
            config.getoption(o, None) is not None
            for o in ("rs_json", "rs_html", "rs_junit", "rs_codequality")) or any(
            _is_checks(Path(a.split("::")[0])) for a in config.args)
        self._ended = False  # the document exists only once the last check has reported
        if self.plain:
            self._show_progress_info = False  # every line is a check's; no [ 40%] column

    @property
    def plain(self) -> bool:
        """rs-preflight's own lines (an rs-preflight run without -v)."""
        return self.rs_run and self.verbosity < 1

    # --- the start -------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not self.plain:
            super().pytest_sessionstart(session)
            return
        self._session = session
        from _pytest import timing
        self._session_start = timing.Instant()

    def report_collect(self, final: bool = False) -> None:
        if not self.plain:
            super().report_collect(final)

    # --- progress --------------------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]
                                ) -> None:
        if not self.plain:
            super().pytest_runtest_logstart(nodeid, location)
            return
        self._running = self._title(nodeid)
        if self.isatty():
            self._status(f"… {self._running}")

    def note(self, text: str) -> None:
        """What the running check waits for (``RunState.progress``): a status line on a
        terminal, a line of its own in a log."""
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        suspend = capman.global_and_fixture_disabled() if capman else _nothing()
        with self._lock, suspend:
            if self.isatty():
                self._status(f"… {self._running}: {text}")
            elif self.verbosity >= 0:
                self.write_line(f"  … {text}")
            self.flush()

    def _status(self, text: str) -> None:
        width = self._tw.fullwidth - 1
        self.rewrite(text[:width], erase=True)
        self.flush()

    def _title(self, nodeid: str) -> str:
        key = label(nodeid)
        return f"{key} {self._titles(key.split('@')[0])}".rstrip()

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """pytest keeps a formatted traceback of the interrupt (printed with --full-trace).
        Formatting one cut at an arbitrary instruction can itself fail (a frame whose
        ``tb_lineno`` is None: TypeError), which would turn an interrupt (exit 2) into an
        internal error: then keep only the interrupt's own line. No frame arguments either:
        they may hold secrets, and this memo does not pass the redactor."""
        try:
            self._keyboardinterrupt_memo = excinfo.getrepr(funcargs=False, style="short")
        except Exception:
            self._keyboardinterrupt_memo = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.plain or getattr(report, "rs_result", None) is None:
            super().pytest_runtest_logreport(report)
            return
        self._tests_ran = True
        cat, _, shown = self.config.hook.pytest_report_teststatus(report=report,
                                                                  config=self.config)
        self._add_stats(cat, [report])
        if not shown:
            return
        self._progress_nodeids_reported.add(report.nodeid)
        text, markup = shown if isinstance(shown, tuple) else (shown, {})
        if self.verbosity < 0 and cat in ("passed", "n/a"):
            if self.isatty():
                self._status("")
            return
        with self._lock:
            self._check_line(self._title(report.nodeid), text, markup)

    def _check_line(self, title: str, text: str, markup: dict[str, bool]) -> None:
        room = self._tw.fullwidth - len(text) - 3
        left = title if len(title) <= room else title[:max(room - 1, 10)] + "…"
        dots = " " + "." * max(room - len(left), 2) + " " if room > len(left) else " "
        if self.isatty():
            self._tw.write("\r")
        else:
            self.ensure_newline()
        self._tw.write(left + dots)
        self._tw.write(text, **markup)
        self._tw.write(" " * max(self._tw.fullwidth - len(left + dots + text) - 1, 0) + "\n")
        self.currentfspath = None
        self.flush()

    # --- the end ---------------------------------------------------------------------------
    def summary_failures(self) -> None:
        self._without_checks(super().summary_failures)

    def summary_errors(self) -> None:
        self._without_checks(super().summary_errors)

    def short_test_summary(self) -> None:
        self._without_checks(super().short_test_summary)

    def _without_checks(self, show: Callable[[], None]) -> None:
        """pytest's sections for what is not a check (the summary below says the checks')."""
        if not self.plain:
            show()
            return
        saved = dict(self.stats)
        for k in ("failed", "error"):
            if k in self.stats:
                self.stats[k] = [r for r in self.stats[k] if not hasattr(r, "rs_result")]
        try:
            show()
        finally:
            self.stats = saved

    def _set_main_color(self) -> None:
        super()._set_main_color()
        if not self.rs_run:
            return
        known = list(self._known_types or KNOWN_TYPES)
        ours = [c for c in ("failed", "error", "warned", "waived", "passed", "n/a") if c in known
                or c in self.stats]
        self._known_types = ours + [k for k in known if k not in ours]
        doc = self._doc() if self._ended else None
        if doc is not None:
            gate = doc.get("gate")
            others = any(not hasattr(r, "rs_result") for k in ("failed", "error")
                         for r in self.stats.get(k, []))
            warned = bool(self.stats.get("warned"))
            self._main_color = ("red" if gate == "failed" or others else
                                "yellow" if gate == "incomplete" or warned else "green")

    def summary_stats(self) -> None:
        self._ended = True
        doc = self._doc()
        if doc is not None and self.rs_run and self.verbosity >= -1:
            self.write_sep("=", f"rs-preflight: site {doc.get('site')} · phase "
                                f"{doc.get('phase')} · profile {doc.get('profile')}")
            for text, markup in summary_lines(doc):
                self.write_line(text, **markup)
            self._main_color = None  # decided again, now that the gate is known
        super().summary_stats()
        if doc is None or not self.rs_run:
            return
        text, markup = gate_line(doc, self._policy())
        self.write_line(text, **markup)
        written = [p for p in self._report_paths() if p.exists()]
        if written:
            self.write_line("reports: " + "  ".join(str(p) for p in written))

    def _report_paths(self) -> list[Path]:
        opt = self.config.getoption
        return [Path(p) for p in (opt("rs_json"), opt("rs_html"), opt("rs_junit"),
                                  opt("rs_codequality", None)) if p]


def _is_checks(path: Path) -> bool:
    """The shipped checks (a folder with ``pytest.ini`` beside rs_preflight's checks)."""
    try:
        folder = path.resolve()
        return any((p / "test_os.py").exists() and (p / "pytest.ini").exists()
                   and p.name == "checks" for p in (folder, *folder.parents))
    except OSError:
        return False


@contextmanager
def _nothing() -> Iterator[None]:
    yield


__all__ = ["CATEGORIES", "PreflightTerminal", "clean", "gate_line", "groups", "label",
           "summary_lines"]
