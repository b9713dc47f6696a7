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
