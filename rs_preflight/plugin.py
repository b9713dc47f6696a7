"""The pytest plugin (entry point ``rs_preflight.plugin``): options, the ``rs`` fixture, hooks.

Hook functions only; the run's state lives in the ``Preflight`` object registered in
``pytest_configure`` (``runner.py``). The plugin is inert unless rs-preflight checks are
collected, so it is safe to have installed beside any other test suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rs_preflight.report import report_mode
from rs_preflight.runner import RS_KEY, Preflight
from rs_preflight.spec.results import FAIL_ON

PHASES = ("pre", "post")


def _phase(value: str) -> str:
    if value not in PHASES:
        raise pytest.UsageError(f"--rs-phase must be one of {', '.join(PHASES)}, not {value!r}")
    return value


def _fail_on(value: str) -> str:
    if value not in FAIL_ON:
        raise pytest.UsageError(f"--rs-fail-on must be one of {', '.join(FAIL_ON)}, "
                                f"not {value!r}")
    return value


def _report_mode(value: str) -> int:
    try:
        return report_mode(value)
    except ValueError as exc:
        raise pytest.UsageError(f"--rs-report-mode: {exc}") from exc


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rs-preflight", "rs-preflight: R-Service pre-flight checks")
    group.addoption("--rs-site", metavar="FILE", type=Path, default=None,
                    help="site description (YAML); default: this machine as a pilot host")
    group.addoption("--rs-phase", metavar="pre|post", type=_phase, default=None,
                    help="pre = before installation, post = installed system (default: "
                         "the site's phase, else pre)")
    group.addoption("--rs-json", metavar="PATH", type=Path, default=None,
                    help="write one JSON record per (check, host) to PATH")
    group.addoption("--rs-catalogue", metavar="FILE", type=Path, default=None,
                    action="append",
                    help="requirements catalogue (default: R-Service's, shipped); repeat to "
                         "compose: later files add requirements or replace one by ID "
                         "(r-service: the shipped one)")
    group.addoption("--rs-mail-probe", choices=("auto", "on", "off"), default="auto",
                    help="RS-MAIL-06 sends a probe mail and deletes it again: auto = in "
                         "phase pre only (default), on = also in post, off = never")
    group.addoption("--rs-html", metavar="PATH", type=Path, default=None,
                    help="write the self-contained HTML report to PATH")
    group.addoption("--rs-junit", metavar="PATH", type=Path, default=None,
                    help="write rs-preflight's JUnit XML (a suite per host, severities, "
                         "waivers, warnings as failures in a suite of their own) to PATH")
    group.addoption("--rs-codequality", metavar="PATH", type=Path, default=None,
                    help="write a GitLab Code Quality report (failed and unchecked blockers "
                         "and warnings, for merge requests) to PATH")
    group.addoption("--rs-report-mode", metavar="0600|0640|0644", type=_report_mode,
                    default=None, help="file mode of the reports (default 0600: the owner only)")
    group.addoption("--rs-waivers", metavar="FILE", type=Path, default=None,
                    help="more waivers (YAML, the site's waivers: format), after the site's")
    group.addoption("--rs-baseline", metavar="FILE", type=Path, default=None,
                    help="results.json of an earlier run: report new, fixed, still failing")
    group.addoption("--rs-fail-on", metavar="any|new", type=_fail_on, default="any",
                    help="new: the gate fails only on failures new since --rs-baseline")
    group.addoption("--rs-strict", action="store_true", default=False,
                    help="failed warnings fail the gate too")
    group.addoption("--rs-allow-errors", action="store_true", default=False,
                    help="checks that could not run (errors) do not fail the gate")
    from rs_preflight.bundle import plugin as bundle  # the support bundle: --rs-bundle and friends
    bundle.add_options(group)


@pytest.hookimpl(trylast=True)  # after pytest's terminal plugin, whose reporter ours replaces
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kind(name, clock_samples=None): the check kind an "
                                       "rs-preflight check verifies (see `rs-preflight "
                                       "requirements --kinds`)")
    config.addinivalue_line("markers", "rs(id): deprecated: the kind of the shipped "
                                       "requirement ID (use kind)")
    _check_report_folders(config)
    preflight = Preflight(config)
    config.pluginmanager.register(preflight, "rs-preflight")
    _terminal(config, preflight)
    from rs_preflight.bundle import plugin as bundle
    bundle.configure(config)  # registers the bundle maker when --rs-bundle is given


def _check_report_folders(config: pytest.Config) -> None:
    """Every report's folder exists and takes files, before any check runs (else exit 4)."""
    if hasattr(config, "workerinput"):
        return
    from rs_preflight.cliutil import check_report_dir
    from rs_preflight.report import folder_mode
    mode = folder_mode(config.getoption("rs_report_mode"))
    for option in ("rs_json", "rs_html", "rs_junit", "rs_codequality"):
        path = config.getoption(option)
        problem = check_report_dir(path.parent, mode) if path is not None else None
        if problem:
            raise pytest.UsageError(f"--{option.replace('_', '-')}: {problem}")


def _terminal(config: pytest.Config, preflight: Preflight) -> None:
    """rs-preflight's terminal reporter in place of pytest's (``report/terminal.py``)."""
    from rs_preflight.report.terminal import PreflightTerminal
    standard = config.pluginmanager.get_plugin("terminalreporter")
    if standard is None or type(standard).__name__ != "TerminalReporter":
        return  # -p no:terminal, or another plugin's reporter: leave it
    ours = PreflightTerminal(config, preflight.doc_if_any, preflight.policy_text,
                             preflight.title_of)
    config.pluginmanager.unregister(standard)
    config.pluginmanager.register(ours, "terminalreporter")
    preflight.on_note = ours.note


@pytest.fixture(scope="session")
def rs_tenant_label() -> str:
    """One never-used tenant label per run (``rs-preflight-<random>``): the wildcard DNS, the
    certificate and the load-balancer checks all ask for the same tenant name."""
    from rs_preflight.gather.probes.dns import random_label
    return random_label()


@pytest.fixture
def rs(request: pytest.FixtureRequest) -> object:
    """The target of an rs-preflight check: one requirement on one host, or on the site."""
    preflight: Preflight = request.config.stash[RS_KEY]
    return preflight.target_for(request)
