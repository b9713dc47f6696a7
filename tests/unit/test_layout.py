"""tests/unit mirrors the package: a unit test sits in the folder of the layer (or sub-package)
it tests, so ``tests/unit/judge/test_tls.py`` tests ``rs_preflight/judge/tls.py``. This keeps it
so: every ``tests/unit/**/test_*.py`` lives in a folder that exists under ``rs_preflight/``."""

from __future__ import annotations

from pathlib import Path

UNIT = Path(__file__).resolve().parent
PACKAGE = UNIT.parents[1] / "rs_preflight"


def test_every_unit_test_sits_in_a_folder_of_the_package() -> None:
    tests = sorted(UNIT.rglob("test_*.py"))
    assert len(tests) > 1
    astray = [str(t.relative_to(UNIT)) for t in tests
              if not (PACKAGE / t.parent.relative_to(UNIT)).is_dir()]
    assert not astray, f"not under a folder that exists in rs_preflight/: {astray}"
