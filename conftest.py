"""Root conftest: the project's own tests. The product's fixtures live in the plugin."""

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* from the renderers instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True with --update-golden: golden-file tests write their expected files."""
    return bool(request.config.getoption("--update-golden"))
