"""The run: parametrize checks by host, turn verdicts into outcomes, record results, gate.

Outcome mapping (and why):
- a ``Verdict`` of *failed* → a pytest failure carrying expected/found;
- *error*, or a ``PreflightError`` (host unreachable, fact unreadable) → a pytest **error**.
  A call-phase error is reported with ``when = "setup"`` so the terminal and JUnit both count
  it as an error (pytest has no call-phase error of its own);
- *skipped* → ``pytest.skip`` with the reason; a failure covered by a valid waiver → xfail,
  recorded as *waived*.
The exit status is the gate: 1 when a blocker failed or errored, else 0 (``README.md``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from .catalogue import Catalogue, Requirement, load_catalogue
from .errors import CheckError, PreflightError, SiteError
from .model import RunState, Target
from .results import ERROR, FAILED, PASSED, SKIPPED, WAIVED, Result, Verdict
from .site import Site, default_site, load_site

RS_KEY = pytest.StashKey["Preflight"]()
TARGET_KEY = pytest.StashKey[tuple[Requirement, str | None]]()
NO_HOST = "~no-host"


class CheckFailed(AssertionError):
    """A verdict of *failed*: the message says expected and found."""


class Preflight:
    """The per-run plugin object: owns the site, the state and the results."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        config.stash[RS_KEY] = self
        self._state: RunState | None = None
        self.catalogue = load_catalogue(config.getoption("rs_catalogue"))
        site_file = config.getoption("rs_site")
        self._site: Site | None = None
        if site_file is not None:  # validate now: a broken site stops the run before anything
            try:
                self._site = load_site(site_file, config.getoption("rs_phase"), self.catalogue)
            except SiteError as exc:
                raise pytest.UsageError(f"invalid site description:\n{exc}") from exc

    # --- state ---------------------------------------------------------------------------
    @property
    def site(self) -> Site:
        if self._site is None:
            self._site = default_site().with_phase(self.config.getoption("rs_phase"))
        return self._site

    @property
    def state(self) -> RunState:
        if self._state is None:
            self._state = RunState.create(self.site, self.catalogue)
        return self._state

    # --- collection ----------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        marker = metafunc.definition.get_closest_marker("rs")
        if marker is None or "rs" not in metafunc.fixturenames:
            return
        unknown = [rid for rid in marker.args if rid not in self.catalogue]
        if unknown:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown requirement "
                                    f"ID(s) {', '.join(unknown)}")
        req = self.catalogue[marker.args[0]]
        params: list[tuple[Requirement, str | None]]
        if req.site_level:
            params, ids = [(req, None)], [req.id]
        else:
            hosts = self.site.hosts_with(*req.roles)
            params = [(req, h.name) for h in hosts] or [(req, NO_HOST)]
            ids = [f"{req.id}@{h.name}" for h in hosts] or [f"{req.id}@no-host"]
        metafunc.parametrize("rs", params, ids=ids, indirect=True)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            callspec = getattr(item, "callspec", None)
            if callspec is None or "rs" not in callspec.params:
                continue
            req, host = callspec.params["rs"]
            item.stash[TARGET_KEY] = (req, host)
            area = req.id.split("-")[1].lower()
            item.add_marker(f"rs_{area}")
            item.user_properties += [("requirement", req.id), ("host", host or "site"),
                                     ("severity", req.severity_for(self.site.phase)),
                                     ("guide_section", req.section)]

    def pytest_configure(self, config: pytest.Config) -> None:
        for area in sorted({rid.split("-")[1].lower() for rid in self.catalogue}):
            config.addinivalue_line("markers", f"rs_{area}: rs-preflight checks of RS-"
                                               f"{area.upper()}-*")

    # --- running -------------------------------------------------------------------------
    def target_for(self, request: pytest.FixtureRequest) -> Target:
        req, host_name = request.param
        if host_name == NO_HOST:
            pytest.skip(f"no host with role {'/'.join(req.roles)} in the site")
        host = self.site.host(host_name) if host_name else None
        target = Target(requirement=req, site=self.site, state=self.state, host=host)
        reason = target.applicability()
        if reason:
            pytest.skip(reason)
        if host is not None:
            target.facts  # noqa: B018 - gather now: an unreachable host is a setup error
        return target

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        target = pyfuncitem.funcargs.get("rs")
        if not isinstance(target, Target):
            return None
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        verdict = pyfuncitem.obj(**args)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"{pyfuncitem.name} must return a Verdict, not {type(verdict)}")
        pyfuncitem.stash[VERDICT_KEY] = verdict
        if verdict.outcome == FAILED:
            waiver, valid = target.waiver()
            if waiver is not None and valid:
                pytest.xfail(f"{waiver.describe()} — {verdict.message}")
            if waiver is not None:
                raise CheckFailed(f"{verdict}\n  (waiver expired on {waiver.expires})")
            raise CheckFailed(str(verdict))
        if verdict.outcome == ERROR:
            raise CheckError(verdict.message)
        if verdict.outcome == SKIPPED:
            pytest.skip(verdict.message)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if TARGET_KEY not in item.stash:
            return report
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, PreflightError | CheckFailed):
            report.longrepr = str(exc)  # the message is the report; a traceback is noise
            if call.when == "call" and isinstance(exc, PreflightError):
                report.when = "setup"  # counted as an error by terminal and JUnit
        self._redact(report)
        self._record(item, report, call, exc)
        return report

    def _redact(self, report: pytest.TestReport) -> None:
        redactor = self.site.redactor
        if report.longrepr is not None:
            text = str(report.longrepr)
            if redactor(text) != text:
                report.longrepr = redactor(text)
        report.sections = [(title, redactor(body)) for title, body in report.sections]

    def _record(self, item: pytest.Item, report: pytest.TestReport,
                call: pytest.CallInfo[None], exc: BaseException | None) -> None:
        req, host_name = item.stash[TARGET_KEY]
        previous = self.state.results.get(item.nodeid)
        if previous is not None and previous.outcome != PASSED and call.when == "teardown":
            return
        outcome, message = _outcome(report, exc)
        verdict = item.stash.get(VERDICT_KEY, None)
        host = self.site.host(host_name) if host_name and host_name != NO_HOST else None
        duration = report.duration + (previous.duration_s if previous else 0.0)
        if call.when == "teardown" and outcome == PASSED and previous is not None:
            previous.duration_s = round(duration, 4)
            return
        waiver, valid = Target(req, self.site, self.state, host).waiver()
        text = verdict.message if verdict and outcome in (PASSED, FAILED, WAIVED) else message
        if waiver is not None and not valid and outcome == FAILED:
            text += f" (waiver expired on {waiver.expires})"
        result = Result(
            id=item.nodeid, requirement=req.id,
            host=host.name if host else None,
            roles=list(host.roles) if host else [], outcome=outcome,
            severity=(verdict.severity if verdict and verdict.severity
                      else req.severity_for(self.site.phase)), phase=self.site.phase,
            message=self.site.redactor(text),
            expected=verdict.expected if verdict else None,
            found=self.site.redactor(verdict.found) if verdict and verdict.found else None,
            remediation=req.remediation if outcome in (FAILED, ERROR, WAIVED) else "",
            guide_section=req.section, duration_s=round(duration, 4), title=req.title,
            waiver=waiver.describe() if waiver and outcome == WAIVED else None)
        self.state.results[item.nodeid] = result
        report.user_properties = [(k, result.severity if k == "severity" else v)
                                  for k, v in report.user_properties]

    # --- end of run ----------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.state.results:
            return
        write = terminalreporter.write_line
        terminalreporter.section("rs-preflight summary")
        write(f"site {self.site.name} · phase {self.site.phase} · profile {self.site.profile}")
        by_host: dict[str, Counter[str]] = {}
        for result in self.state.results.values():
            by_host.setdefault(result.host or "site", Counter())[result.outcome] += 1
        for host, counts in sorted(by_host.items()):
            parts = ", ".join(f"{counts[o]} {o}" for o in
                              (PASSED, FAILED, ERROR, WAIVED, SKIPPED) if counts[o])
            write(f"  {host:<24} {parts}")
        blockers = [r for r in self.state.results.values() if r.gate_failure]
        for r in blockers:
            write(f"  BLOCKER {r.outcome.upper()} {r.requirement} on {r.host or 'site'}: "
                  f"{r.message.splitlines()[0] if r.message else ''}")
        write(f"gate: {'FAILED' if blockers else 'passed'} "
              f"({len(blockers)} blocker(s) failed or could not be checked)")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._state is None:
            return
        try:
            if not self.state.results:
                return
            self.state.finished = dt.datetime.now(dt.UTC)
            path = self.config.getoption("rs_json")
            if path is not None and not hasattr(self.config, "workerinput"):
                write_json(path, self.state, self.catalogue)
        finally:
            self.state.cleanup()  # active probes are undone even on interrupt or error
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            gate = any(r.gate_failure for r in self.state.results.values())
            only_checks = all(TARGET_KEY in i.stash for i in session.items)
            if gate:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            elif only_checks:
                session.exitstatus = pytest.ExitCode.OK


VERDICT_KEY = pytest.StashKey[Verdict]()


def _outcome(report: pytest.TestReport, exc: BaseException | None) -> tuple[str, str]:
    if hasattr(report, "wasxfail"):
        return WAIVED, str(report.wasxfail)
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return SKIPPED, reason.removeprefix("Skipped: ")
    if report.passed:
        return PASSED, ""
    if isinstance(exc, CheckFailed):
        return FAILED, str(exc)
    if report.when != "call":
        return ERROR, str(exc) if isinstance(exc, PreflightError) else str(report.longrepr)
    return ERROR, f"the check itself crashed: {type(exc).__name__}: {exc}"


def write_json(path: Path, state: RunState, catalogue: Catalogue) -> None:
    """The JSON report: run metadata plus one record per (check, host)."""
    site = state.site
    doc = {
        "tool": "rs-preflight", "version": __version__, "catalogue": catalogue.product,
        "site": site.name, "site_file": str(site.file) if site.file else None,
        "phase": site.phase, "profile": site.profile,
        "start": state.started.isoformat(),
        "end": (state.finished or dt.datetime.now(dt.UTC)).isoformat(),
        "gate": "failed" if any(r.gate_failure for r in state.results.values()) else "passed",
        "summary": dict(Counter(r.outcome for r in state.results.values())),
        "hosts": {name: ({"round_trips": f.round_trips, "gather_s": round(f.seconds, 4)}
                         if not isinstance(f, PreflightError) else {"error": str(f)})
                  for name, f in state.gathered().items()},
        "results": [r.to_dict() for r in state.results.values()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(site.redactor(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n",
                    encoding="utf-8")
