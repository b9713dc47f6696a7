"""The run: parametrize checks by host, turn verdicts into outcomes, record results, gate.

Outcome mapping (and why):
- a ``Verdict`` of *failed* → a pytest failure carrying expected/found;
- *error*, or a ``PreflightError`` (host unreachable, fact unreadable) → a pytest **error**.
  A call-phase error is reported with ``when = "setup"`` so the terminal and JUnit both count
  it as an error (pytest has no call-phase error of its own);
- *skipped* → ``pytest.skip`` with the reason; a failure covered by a valid waiver → xfail,
  recorded as *waived*.
The exit status is the gate (``GatePolicy``): 1 when a blocker failed or errored — warnings too
with ``--rs-strict``, errors not with ``--rs-allow-errors``, only regressions against
``--rs-baseline`` with ``--rs-fail-on new`` — else 0 (``cli.py`` documents every code).
The reports (JSON, HTML, JUnit) are rendered from one document (``report.finalize``), which
says whether the run was complete (``completeness.py``): a check running when the run was
interrupted is *error: interrupted*, never passed, and an incomplete run never says "gate passed".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Generator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rs_preflight import __version__
from rs_preflight.gather.access import key_policy_warnings
from rs_preflight.gather.facts import HostFacts
from rs_preflight.gather.state import PARALLEL_HOSTS, RunState
from rs_preflight.interrupts import Interrupts
from rs_preflight.model import Target
from rs_preflight.report import area_of, exit_code, finalize, write_reports
from rs_preflight.report.baseline import BaselineError, compare, key, load_baseline
from rs_preflight.report.completeness import (
    NO_HOST_ID,
    Progress,
    check_id,
    defined_checks,
    selection_of,
    targets,
)
from rs_preflight.report.counts import status_of
from rs_preflight.spec.catalogue import (
    Catalogue,
    Requirement,
    catalogue_paths,
    load_catalogues,
    shipped,
)
from rs_preflight.spec.errors import CheckError, PreflightError, SiteError
from rs_preflight.spec.kinds import load_kinds, unknown_kind
from rs_preflight.spec.redact import RedactingFilter
from rs_preflight.spec.results import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    WAIVED,
    GatePolicy,
    Result,
    Verdict,
)
from rs_preflight.spec.site import Site, Waiver, default_site, load_site
from rs_preflight.spec.waivers import load_waivers, waiver_report

RS_KEY = pytest.StashKey["Preflight"]()
TARGET_KEY = pytest.StashKey[tuple[Requirement, str | None]]()
NO_HOST = "~no-host"
NOT_IN_CATALOGUE = "~not-in-catalogue"
EVIDENCE_MAX = 4000  # characters of evidence kept per result (head and tail)


def site_warnings(site: Site) -> list[dict[str, str]]:
    """``results.json``'s ``warnings`` from the site lint (``sitelint.py``): ``file:line: key:
    message`` each, kind ``site``."""
    return [{"kind": "site", "message": str(w)} for w in site.warnings]


class CheckFailed(AssertionError):
    """A verdict of *failed*: the message says expected and found."""


class Preflight:
    """The per-run plugin object: owns the site, the state and the results."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        config.stash[RS_KEY] = self
        self._state: RunState | None = None
        try:
            self.catalogue = load_catalogues(catalogue_paths(config.getoption("rs_catalogue")))
        except SiteError as exc:
            raise pytest.UsageError(f"invalid catalogue:\n{exc}") from exc
        site_file = config.getoption("rs_site")
        self._site: Site | None = None
        if site_file is not None:  # validate now: a broken site stops the run before anything
            try:
                self._site = load_site(site_file, config.getoption("rs_phase"), self.catalogue)
            except SiteError as exc:
                raise pytest.UsageError(f"invalid site description:\n{exc}") from exc
        extra = self._load_waivers(config.getoption("rs_waivers"))
        if extra:  # --rs-waivers FILE: after the site's own (the first covering waiver applies)
            self._site = replace(self.site, waivers=self.site.waivers + extra)
        self.policy = GatePolicy(strict=config.getoption("rs_strict"),
                                 allow_errors=config.getoption("rs_allow_errors"),
                                 fail_on=config.getoption("rs_fail_on"))
        baseline_file = config.getoption("rs_baseline")
        if self.policy.fail_on == "new" and baseline_file is None:
            raise pytest.UsageError("--rs-fail-on new needs --rs-baseline FILE (the results.json "
                                    "of the run to compare with)")
        try:
            self.baseline = load_baseline(baseline_file) if baseline_file else None
        except BaselineError as exc:
            raise pytest.UsageError(f"--rs-baseline: {exc}") from exc
        self._doc: dict[str, Any] | None = None
        self.started = dt.datetime.now(dt.UTC)
        self.on_note: Callable[[str], None] | None = None  # set by the terminal reporter
        # per process that ran checks ("main", or the xdist worker's id): what its hosts said
        self.hosts_seen: dict[str, dict[str, dict[str, Any]]] = {}
        self._hosts_mark: tuple[tuple[str, int], ...] = ()
        self.completion = Progress([])  # what the site defines: known at collection
        self._items: dict[str, pytest.Item] = {}
        self._kind_checks: dict[str, str] = {}  # kind → the node id of its check
        self._check_problems: list[str] = []    # usage errors of the checks (collection)
        self._hub: Any = None  # under xdist, on the controller: distribute.Hub
        self._peers: Any = None  # under xdist, on a worker: distribute.Peers
        self.interrupts = Interrupts()
        if self._reports_asked():  # a run of rs-preflight, not a suite it is installed beside
            self.interrupts.install()

    def _reports_asked(self) -> bool:
        return any(self.config.getoption(o) is not None
                   for o in ("rs_json", "rs_html", "rs_junit", "rs_codequality"))

    def _load_waivers(self, path: Path | None) -> tuple[Waiver, ...]:
        if path is None:
            return ()
        hosts = [h.name for h in self.site.hosts]
        try:
            return load_waivers(path, self.catalogue, hosts)
        except SiteError as exc:
            raise pytest.UsageError(f"invalid waivers file:\n{exc}") from exc

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
            self._state.started = self.started  # the run's start, also on an xdist controller
            self._state.progress = self.progress
            self._state.peers = self._worker_peers()
        return self._state

    # --- collection ----------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """A check is registered for a kind (``@pytest.mark.kind("sysctl")``): it runs once
        per requirement of the loaded catalogue with that kind × the requirement's hosts
        (ids ``RS-SYSCTL-01@rt1``). What is wrong with the checks themselves (an unknown
        kind, two checks for one kind) is a usage error, raised once collection is done."""
        if "rs" not in metafunc.fixturenames:
            return
        kind = self._kind_of(metafunc.definition)
        if kind is None:
            return
        params: list[tuple[Requirement | None, str | None]] = []
        ids: list[str] = []
        for req in self.catalogue.of_kind(kind):
            hosts = targets(req, self.site)
            params += [(req, h) for h in hosts] or [(req, NO_HOST)]
            ids += [check_id(req.id, h) for h in hosts] or [check_id(req.id, NO_HOST_ID)]
        if not params:  # this catalogue has no requirement of the kind: deselected below
            params, ids = [(None, NOT_IN_CATALOGUE)], ["not-in-catalogue"]
        metafunc.parametrize("rs", params, ids=ids, indirect=True)

    def _kind_of(self, definition: pytest.Item) -> str | None:
        """The kind a check is registered for (None: not a check); its problems are kept."""
        marker = definition.get_closest_marker("kind")
        where = definition.nodeid
        if marker is not None:
            name = marker.args[0] if len(marker.args) == 1 else None
            if name not in load_kinds():
                self._check_problems.append(f"{where}: @pytest.mark.kind(NAME) takes one "
                                            f"kind: {unknown_kind(name)}")
                return None
            kind = str(name)
        else:
            old = definition.get_closest_marker("rs")  # deprecated: a shipped requirement ID
            if old is None:
                return None
            unknown = [rid for rid in old.args if rid not in shipped()]
            if unknown or not old.args:
                self._check_problems.append(f"{where}: unknown requirement ID(s) "
                                            f"{', '.join(map(str, unknown)) or '(none given)'}"
                                            " (@pytest.mark.rs is deprecated: use "
                                            "@pytest.mark.kind(NAME))")
                return None
            kinds = {shipped()[rid].kind for rid in old.args}
            if len(kinds) > 1:
                self._check_problems.append(f"{where}: @pytest.mark.rs names requirements of "
                                            f"several kinds ({', '.join(sorted(kinds))})")
                return None
            kind = kinds.pop()
        first = self._kind_checks.setdefault(kind, where)
        if first != where:
            self._check_problems.append(f"two checks for kind {kind!r}: {first} and {where} "
                                        "(a kind has one check)")
        return kind

    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if self._check_problems:
            raise pytest.UsageError("invalid checks:\n" + "\n".join(self._check_problems))
        unused = [i for i in items if
                  getattr(getattr(i, "callspec", None), "params", {}).get("rs", (None, None))[1]
                  == NOT_IN_CATALOGUE]
        if unused:  # checks the loaded catalogue has no requirement for
            config.hook.pytest_deselected(items=unused)
            items[:] = [i for i in items if i not in unused]
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

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Log records are redacted before any handler of pytest's writes them."""
        logging_plugin = session.config.pluginmanager.get_plugin("logging-plugin")
        for name in ("caplog_handler", "report_handler", "log_cli_handler", "log_file_handler"):
            handler = getattr(logging_plugin, name, None)
            if handler is not None:
                handler.addFilter(RedactingFilter(self.site.redactor))

    # --- completeness: what was selected, started, finished (completeness.py) -------------
    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            cid = _check_of(item)
            if cid is not None:
                self.completion.deselected.add(cid)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._want_clock_samples(session)
        chosen = [i.stash[TARGET_KEY][0] for i in session.items if TARGET_KEY in i.stash]
        if chosen:  # gather only what the selected requirements' kinds read
            self.state.select(chosen)
        self.completion.selected = {i.nodeid: cid for i in session.items
                                  if (cid := _check_of(i)) is not None}
        self._items = {i.nodeid: i for i in session.items if i.nodeid in self.completion.selected}
        if self._in_use():
            self.completion.defined = defined_checks(self.catalogue, self.site)
            self.completion.kinds = {rid: req.kind for rid, req in self.catalogue.items()}
            self.interrupts.install()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """On an xdist controller (which collects nothing itself): what the workers selected,
        read from the node ids (``…[RS-OS-01@app1]``, ``…[RS-ENV-03]``)."""
        for nodeid in ids:
            cid = _check_of_nodeid(nodeid)
            if cid is not None:
                self.completion.selected[nodeid] = cid
        if self._in_use() and not self.completion.defined:
            self.completion.defined = defined_checks(self.catalogue, self.site)
            self.completion.kinds = {rid: req.kind for rid, req in self.catalogue.items()}

    def _in_use(self) -> bool:
        """True in a run of rs-preflight: checks were collected or reports asked for."""
        return bool(self.completion.selected or self.completion.deselected or self._state
                    or self._reports_asked())

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]
                                ) -> None:
        self.interrupts.check()  # a signal whose stop was swallowed stops the run here
        if nodeid in self.completion.selected:
            self.completion.started[nodeid] = self.completion.selected[nodeid]

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, KeyboardInterrupt):
            self.completion.interrupted_by = self.interrupts.received or "SIGINT"
        else:  # pytest.exit() from a plugin or a check
            self.completion.interrupted_by = f"pytest.exit: {excinfo.value}"

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.interrupts.restore()

    def pytest_configure(self, config: pytest.Config) -> None:
        for area in sorted({rid.split("-")[1].lower() for rid in self.catalogue}):
            config.addinivalue_line("markers", f"rs_{area}: rs-preflight checks of RS-"
                                               f"{area.upper()}-*")
        config.addinivalue_line("markers", "rs_one_worker(reason): with -n, every item of this "
                                           "check runs on one worker (distribute.py)")

    def _want_clock_samples(self, session: pytest.Session) -> None:
        """Hosts whose checks read the clock offset (``@pytest.mark.kind(NAME,
        clock_samples=PARAM)``) get their samples while their facts are gathered, on the
        connection already open (``RunState.clock_samples``)."""
        for item in session.items:
            marker = item.get_closest_marker("kind") or item.get_closest_marker("rs")
            param = marker.kwargs.get("clock_samples") if marker else None
            if not param or TARGET_KEY not in item.stash:
                continue
            req, host_name = item.stash[TARGET_KEY]
            if host_name not in (None, NO_HOST) and self.site.phase in req.phases:
                self.state.clock_samples[str(host_name)] = int(req.params[param])

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
        if verdict.evidence is None:  # what the host said, for the facts the check read
            verdict = replace(verdict, evidence=target.evidence())
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

    @pytest.hookimpl(specname="pytest_runtest_makereport", tryfirst=True)
    def pytest_runtest_makereport_short(self, item: pytest.Item, call: pytest.CallInfo[None]
                                        ) -> pytest.TestReport | None:
        """A check's failure, error or crash is one line (see the wrapper below): the report
        is built without formatting a traceback. pytest's long form parses every frame's
        module (1–2 s per error under load), and one host that cannot be reached makes a dozen
        errors (fault suite)."""
        exc = call.excinfo.value if call.excinfo else None
        if TARGET_KEY not in item.stash or not isinstance(exc, Exception | XFAIL):
            return None  # (pytest's skip and exit outcomes are not Exceptions; a skip's
            # report is a file location, no traceback)
        sections = [(f"Captured {key} {rwhen}", content)
                    for rwhen, key, content in item._report_sections]
        assert call.when != "collect"
        return pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1),
                                 "failed", str(exc), call.when, sections, call.duration,
                                 call.start, call.stop, user_properties=item.user_properties)

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
        elif report.failed and isinstance(exc, Exception):
            # A crash: its traceback would print the frames' arguments (URLs, passwords).
            report.longrepr = f"the check crashed: {type(exc).__name__}: {exc}"
            report.when = "setup" if call.when == "call" else report.when
        self._redact(report)
        result = self._record(item, report, call, exc)
        if result is not None:  # travels with the report (to the xdist controller too)
            report.rs_result = result.to_dict()  # type: ignore[attr-defined]
        if hasattr(self.config, "workerinput"):  # the controller learns the hosts from us
            hosts = self._hosts_changed()
            if hosts is not None:
                report.rs_hosts = hosts  # type: ignore[attr-defined]
        return report

    def _hosts_changed(self) -> dict[str, dict[str, Any]] | None:
        """This worker's host table when it changed since the last report that carried it
        (reports are kept to the end of the run: one table each would grow as hosts ×
        checks), else None."""
        gathered = self.state.gathered()
        mark = tuple((name, getattr(f, "round_trips", -1)) for name, f in gathered.items())
        if mark == self._hosts_mark:
            return None
        self._hosts_mark = mark
        return host_info(self.site, gathered)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Where results are kept: here on the controller, whether the check ran in this
        process or on an xdist worker (the record travels as the report's ``rs_result``)."""
        got = getattr(report, "rs_result", None)
        if got is not None:
            self.state.results[report.nodeid] = Result(**got)
        hosts = getattr(report, "rs_hosts", None)
        if hosts:
            self.hosts_seen[str(getattr(report, "worker_id", "main"))] = hosts

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config
                                 ) -> tuple[str, str, str | tuple[str, dict[str, bool]]] | None:
        """pytest's own counts and words in the gate's terms (``report.terminal``)."""
        record = getattr(report, "rs_result", None)
        if record is None:
            return None
        if report.when != "call" and report.passed:
            return "", "", ""  # a passed setup/teardown is not a result
        return status_of(self.classify(record))

    def classify(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with ``gating`` and ``gate_kind`` decided (as ``finalize`` does)."""
        status = None
        if self.baseline is not None:
            status = compare([record], self.baseline["results"]).get(key(record))
        gating, kind, _ = self.policy.effect(record["outcome"], record["severity"], status)
        return {**record, "gating": gating, "gate_kind": kind}

    def _redact(self, report: pytest.TestReport) -> None:
        redactor = self.site.redactor
        if report.longrepr is not None:
            text = str(report.longrepr)
            if redactor(text) != text:
                report.longrepr = redactor(text)
        report.sections = [(title, redactor(body)) for title, body in report.sections]

    def _record(self, item: pytest.Item, report: pytest.TestReport,
                call: pytest.CallInfo[None], exc: BaseException | None) -> Result | None:
        """The record of this phase's report, or None when the phase changes nothing."""
        req, host_name = item.stash[TARGET_KEY]
        if call.when == "setup" and report.passed:  # running, not passed: the call decides
            item.stash[SETUP_S] = report.duration
            return None
        previous = self.state.results.get(item.nodeid)
        if call.when == "teardown" and previous is None:
            return None  # the call never reported (interrupted): sessionfinish records it
        if previous is not None and previous.outcome != PASSED and call.when == "teardown":
            return None
        outcome, message = _outcome(report, exc)
        verdict = item.stash.get(VERDICT_KEY, None)
        host = self.site.host(host_name) if host_name and host_name != NO_HOST else None
        duration = report.duration + (previous.duration_s if previous
                                      else item.stash.get(SETUP_S, 0.0))
        if call.when == "teardown" and outcome == PASSED and previous is not None:
            return replace(previous, duration_s=round(duration, 4))
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
            expected=self.site.redactor(verdict.expected) if verdict and verdict.expected
            else None,
            found=self.site.redactor(verdict.found) if verdict and verdict.found else None,
            remediation=req.remediation if outcome in (FAILED, ERROR, WAIVED) else "",
            guide_section=req.section, duration_s=round(duration, 4), title=req.title,
            waiver=waiver.describe() if waiver and outcome == WAIVED else None,
            area=area_of(req.id),
            evidence=_trim(self.site.redactor(verdict.evidence))
            if verdict and verdict.evidence else None)
        report.user_properties = [(k, result.severity if k == "severity" else v)
                                  for k, v in report.user_properties]
        return result

    # --- what the terminal asks ----------------------------------------------------------
    def doc_if_any(self) -> dict[str, Any] | None:
        """The finalized document, or None when no check ran (nothing to say)."""
        return self.report_doc() if self._in_use() else None

    def policy_text(self) -> str:
        return policy_text(self.policy)

    def title_of(self, requirement: str) -> str:
        req = self.catalogue.get(requirement)
        return req.title if req is not None else ""

    def progress(self, text: str) -> None:
        """Say what the running check waits for (the terminal's status line)."""
        if self.on_note is not None and not hasattr(self.config, "workerinput"):
            self.on_note(text)

    # --- end of run ----------------------------------------------------------------------
    def report_doc(self) -> dict[str, Any]:
        """The run's document with the gate decided (built once, after the last check)."""
        if self._doc is None:
            self.state.finished = self.state.finished or dt.datetime.now(dt.UTC)
            self._order_results()
            if not hasattr(self.config, "workerinput"):  # what this process gathered itself
                self.hosts_seen["main"] = host_info(self.site, self.state.gathered())
            doc = build_doc(self.state, self.catalogue, merge_hosts(self.site, self.hosts_seen))
            finished = [n for n, r in self.state.results.items() if not r.extra.get("interrupted")]
            doc.update(self.completion.fields(self._selection(), finished))
            doc["warnings"] = [*site_warnings(self.site),
                               *key_policy_warnings(self.site, self.state.connections.key_events)]
            doc["waivers"] = waiver_report(self.site.waivers, doc["results"], dt.date.today())
            baseline_file = self.config.getoption("rs_baseline")
            self._doc = finalize(doc, self.policy, self.baseline,
                                 str(baseline_file) if baseline_file else None)
        return self._doc

    def _selection(self) -> dict[str, Any]:
        config = self.config
        explicit = config.args_source == pytest.Config.ArgsSource.ARGS
        return selection_of(config.option, config.args, explicit, self.catalogue)

    def _record_interrupted(self) -> None:
        """The checks running when the run stopped: *error: interrupted*, never passed."""
        for nodeid in self.completion.running(self.state.results):
            item = self._items.get(nodeid)
            if item is None or TARGET_KEY not in item.stash:
                continue
            req, host_name = item.stash[TARGET_KEY]
            host = self.site.host(host_name) if host_name and host_name != NO_HOST else None
            self.state.results[nodeid] = Result(
                id=nodeid, requirement=req.id, host=host.name if host else None,
                roles=list(host.roles) if host else [], outcome=ERROR,
                severity=req.severity_for(self.site.phase), phase=self.site.phase,
                message=f"interrupted: the run was stopped ({self.completion.interrupted_by}) "
                        "while this check was running; it did not decide",
                remediation=req.remediation, guide_section=req.section, title=req.title,
                area=area_of(req.id), extra={"interrupted": True})

    def _order_results(self) -> None:
        """Catalogue order, then the site's host order: the same for a serial run and for
        xdist's, whose reports arrive in the order the workers finish them."""
        reqs = {rid: i for i, rid in enumerate(self.catalogue)}
        hosts = {h.name: i for i, h in enumerate(self.site.hosts)}
        self.state.results = dict(sorted(
            self.state.results.items(), key=lambda kv: (
                reqs.get(kv[1].requirement, len(reqs)), kv[1].requirement,
                -1 if kv[1].host is None else hosts.get(kv[1].host, len(hosts)), kv[0])))

    def pytest_report_collectionfinish(self, config: pytest.Config,
                                       items: list[pytest.Item]) -> str | None:
        """Progress: say what is about to be checked, before the first fact is gathered."""
        checks = [i for i in items if TARGET_KEY in i.stash]
        # the site lint's warnings, at load: before anything runs (and with --collect-only)
        lines = [f"rs-preflight: WARNING {w['kind']}: {w['message']}"
                 for w in site_warnings(self.site)]
        if checks:
            hosts = [h.name for h in self.site.hosts if h.reachable]
            areas = sorted({area_of(i.stash[TARGET_KEY][0].id) for i in checks})
            lines += [f"rs-preflight: {len(checks)} checks · site {self.site.name} · phase "
                      f"{self.site.phase} · areas {', '.join(areas)}",
                      f"rs-preflight: facts are gathered from {len(hosts)} host(s) in parallel "
                      f"at the first check ({', '.join(hosts)})"]
        return "\n".join(lines) or None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self._in_use():
            return
        lost = self.interrupts.received  # a signal before this point ends the run as one
        self.interrupts.hold()  # a second signal cannot cut the reports or the clean-up short
        if lost is not None and exitstatus != pytest.ExitCode.INTERRUPTED:
            # its KeyboardInterrupt was swallowed after the last check began: still a stop
            exitstatus = session.exitstatus = pytest.ExitCode.INTERRUPTED
        if exitstatus == pytest.ExitCode.INTERRUPTED and self.completion.interrupted_by is None:
            self.completion.interrupted_by = self.interrupts.received or "SIGINT"
        self.completion.stopped = (str(session.shouldstop or session.shouldfail or "")
                                 or None)
        if self._peers is not None:  # what other workers wait for and never get here
            self._peers.close()
        try:
            if self.completion.interrupted_by is not None:
                self.state.stop_gathering()
                self._record_interrupted()
            self.state.finished = dt.datetime.now(dt.UTC)
            if not hasattr(self.config, "workerinput"):
                # written even when nothing was selected: no stale "passed" stays behind
                opt = self.config.getoption
                write_reports(self.report_doc(), self.site.redactor, json_path=opt("rs_json"),
                              html_path=opt("rs_html"), junit_path=opt("rs_junit"),
                              codequality_path=opt("rs_codequality"),
                              mode=opt("rs_report_mode"))
        finally:
            self.state.cleanup()  # active probes are undone even on interrupt or error
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            only_checks = all(TARGET_KEY in i.stash for i in session.items)
            if exit_code(self.report_doc()):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            elif only_checks:
                session.exitstatus = pytest.ExitCode.OK


    # --- xdist: hosts spread over the workers, each gathered once (distribute.py) ---------
    def _distributing(self) -> bool:
        return bool(self.config.getoption("dist", "no") in ("load", "no"))  # else: theirs

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """On the controller, as each worker starts: its link (relayed facts, its share)."""
        if not self._distributing():
            return
        if self._hub is None:
            from rs_preflight.distribute import Hub
            self._hub = Hub()
        self._hub.attach(node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """With ``-n``, each host's checks on one worker, which gathers its share of hosts
        once; site-level checks and ``rs_one_worker`` checks per module on one worker, so the
        active probes (mail round trip, header listeners, share probe file) run once."""
        if not self._distributing() or self._hub is None:
            return None  # the user chose a distribution mode: theirs
        from rs_preflight.distribute import HostScheduling
        return HostScheduling(config, log, self._hub)

    def _worker_peers(self) -> Any:
        """On a worker our scheduler feeds: its end of the link, else None."""
        if self._peers is None and "rs_link" in getattr(self.config, "workerinput", {}):
            from rs_preflight.distribute import peers_of
            self._peers = peers_of(self.config, self.site, PARALLEL_HOSTS)
        return self._peers

    @pytest.hookimpl(tryfirst=True, specname="pytest_collection_finish")
    def pytest_collection_finish_tell(self, session: pytest.Session) -> None:
        """On a worker, before xdist sends its collection: which checks must stay on one
        worker (the controller schedules by node ids only and cannot see markers)."""
        peers = self._worker_peers()
        if peers is not None:
            from rs_preflight.distribute import ONE_WORKER, function_of
            peers.tell_together([function_of(i.nodeid) for i in session.items
                                 if i.get_closest_marker(ONE_WORKER) is not None])


def policy_text(policy: GatePolicy) -> str:
    parts = ["blockers failed or could not be checked"]
    if policy.strict:
        parts.append("warnings too (--strict)")
    if policy.allow_errors:
        parts.append("errors allowed")
    if policy.fail_on == "new":
        parts.append("new since the baseline only")
    return "; ".join(parts)


def _trim(text: str) -> str:
    if len(text) <= EVIDENCE_MAX:
        return text
    half = EVIDENCE_MAX // 2
    return f"{text[:half]}\n… ({len(text) - EVIDENCE_MAX} characters left out) …\n{text[-half:]}"


VERDICT_KEY = pytest.StashKey[Verdict]()
SETUP_S = pytest.StashKey[float]()
XFAIL = pytest.xfail.Exception  # a waived failure: pytest would format its traceback too


def _check_of(item: pytest.Item) -> str | None:
    """The check id (``RS-OS-01@app1``) of an rs-preflight item, None for anything else."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "rs" not in params or not isinstance(params["rs"], tuple):
        return None
    req, host = params["rs"]
    if req is None or host == NOT_IN_CATALOGUE:
        return None
    return check_id(req.id, NO_HOST_ID if host == NO_HOST else host)


def _check_of_nodeid(nodeid: str) -> str | None:
    """The check id in an rs-preflight item's node id (its parameter id), None if none."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    param = nodeid[nodeid.rindex("[") + 1:-1]
    if param == "not-in-catalogue" or not param.split("@")[0].count("-") >= 2:
        return None
    return param


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
    return ERROR, f"the check crashed: {type(exc).__name__}: {exc}"


def host_info(site: Site, gathered: Mapping[str, HostFacts | PreflightError]
              ) -> dict[str, dict[str, Any]]:
    """What this process learnt of each host it gathered (sent with every report)."""
    out: dict[str, dict[str, Any]] = {}
    for name, facts in gathered.items():
        if isinstance(facts, PreflightError):
            out[name] = {"reachable": False, "error": str(facts)}
            continue
        os_release = facts.values.get("os_release") or {}
        out[name] = {"reachable": True, "round_trips": facts.round_trips,
                     "gather_s": round(facts.seconds, 4),
                     "os": os_release.get("PRETTY_NAME") or " ".join(
                         filter(None, (os_release.get("ID"), os_release.get("VERSION_ID"))))
                     or None}
    return out


def merge_hosts(site: Site, seen: Mapping[str, Mapping[str, Mapping[str, Any]]]
                ) -> dict[str, dict[str, Any]]:
    """The JSON ``hosts``: every site host with address, roles and what the run learnt.

    Under xdist each worker that ran host checks gathered the facts itself (read-only, once
    per worker): round trips are summed (they all happened), the gather time is the longest.
    """
    out: dict[str, dict[str, Any]] = {}
    for host in site.hosts:
        entry: dict[str, Any] = {"address": host.address, "roles": list(host.roles),
                                 "connection": host.connection, "reachable": None,
                                 "os": None, "round_trips": 0, "gather_s": None}
        views = [v[host.name] for v in seen.values() if host.name in v]
        good = [v for v in views if v.get("reachable")]
        if good:
            entry.update(reachable=True, os=good[0].get("os"),
                         round_trips=sum(int(v.get("round_trips") or 0) for v in good),
                         gather_s=max(float(v.get("gather_s") or 0) for v in good))
        elif views:
            entry.update(reachable=False, error=views[0].get("error"))
        out[host.name] = entry
    return out


def build_doc(state: RunState, catalogue: Catalogue,
              hosts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON report before the gate: run metadata plus one record per (check, host)."""
    site = state.site
    if hosts is None:
        hosts = merge_hosts(site, {"main": host_info(site, state.gathered())})
    return {
        "tool": "rs-preflight", "version": __version__, "catalogue": catalogue.product,
        "site": site.name, "site_file": str(site.file) if site.file else None,
        "phase": site.phase, "profile": site.profile,
        "start": state.started.isoformat(),
        "end": (state.finished or dt.datetime.now(dt.UTC)).isoformat(),
        "gate": "failed" if any(r.gate_failure for r in state.results.values()) else "passed",
        "summary": dict(Counter(r.outcome for r in state.results.values())),
        "hosts": dict(hosts),
        "results": [r.to_dict() for r in state.results.values()],
    }


def write_json(path: Path, state: RunState, catalogue: Catalogue,
               policy: GatePolicy | None = None) -> None:
    """The JSON report of a run (the plugin writes it with ``report.write_reports``)."""
    doc = finalize(build_doc(state, catalogue), policy or GatePolicy())
    doc["waivers"] = waiver_report(state.site.waivers, doc["results"], dt.date.today())
    write_reports(doc, state.site.redactor, json_path=path)
