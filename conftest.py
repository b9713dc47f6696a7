"""Root conftest: the project's own tests. The product's fixtures live in the plugin.

Every command the tests start (``python -m rs_preflight.cli``, the lab's services) imports this
checkout first, even where another copy of rs-preflight is installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [ROOT, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ROOT]])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* from the renderers instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True with --update-golden: golden-file tests write their expected files."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def catalogue_of(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``catalogue_of(*ids)``: the shipped catalogue cut to ``ids``, as a file for
    ``--rs-catalogue``. A run of a few test checks against it is complete (every requirement
    it defines has a check), as a real run of the shipped checks is."""
    from importlib import resources

    import yaml

    def make(*ids: str) -> Path:
        shipped = resources.files("rs_preflight").joinpath("data/catalogue.yaml")
        raw = yaml.safe_load(shipped.read_text("utf-8"))
        raw["requirements"] = {rid: raw["requirements"][rid] for rid in ids}
        path = tmp_path_factory.mktemp("catalogue") / "catalogue.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path
    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``RS_LAB_REQUIRED=1`` (``.ci/run`` sets it) a skipped lab test fails the run: CI
    installs everything the lab needs, so a lab skip there hides a check nothing proved."""
    if os.environ.get("RS_LAB_REQUIRED") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", {}) if reporter is not None else {}
    skipped = sorted({r.nodeid for r in stats.get("skipped", [])
                      if r.nodeid.startswith("tests/lab")})
    if skipped:
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"RS_LAB_REQUIRED: {len(skipped)} lab test(s) skipped: "
                                + ", ".join(skipped[:10]), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
