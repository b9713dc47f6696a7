"""The pytest plugin (entry point ``rs_preflight.plugin``): options, the ``rs`` fixture, hooks.

Hook functions only; the run's state lives in the ``Preflight`` object registered in
``pytest_configure`` (``runner.py``). The plugin is inert unless rs-preflight checks are
collected, so it is safe to have installed beside any other test suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .runner import RS_KEY, Preflight

PHASES = ("pre", "post")


def _phase(value: str) -> str:
    if value not in PHASES:
        raise pytest.UsageError(f"--rs-phase must be one of {', '.join(PHASES)}, not {value!r}")
    return value


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
                    help="requirements catalogue (default: R-Service's, shipped)")
    group.addoption("--rs-mail-probe", choices=("auto", "on", "off"), default="auto",
                    help="RS-MAIL-06 sends a probe mail and deletes it again: auto = in "
                         "phase pre only (default), on = also in post, off = never")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rs(*ids): the requirement IDs an rs-preflight check "
                                       "verifies (see `rs-preflight requirements`)")
    config.pluginmanager.register(Preflight(config), "rs-preflight")


@pytest.fixture
def rs(request: pytest.FixtureRequest) -> object:
    """The target of an rs-preflight check: one requirement on one host, or on the site."""
    preflight: Preflight = request.config.stash[RS_KEY]
    return preflight.target_for(request)
