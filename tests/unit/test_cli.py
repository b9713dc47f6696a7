"""How `rs-preflight` starts pytest: no rewriting, no autoloaded plugins, xdist on request."""

from __future__ import annotations

import os

import pytest

from rs_preflight.cli import AUTOLOAD, _engine_args, _no_plugin_autoload


@pytest.mark.parametrize(("extra", "xdist"), [
    ([], False), (["-q"], False), (["-n", "2"], True), (["-n2"], True),
    (["--numprocesses=2"], True), (["--dist", "load"], True), (["--tx", "popen"], True),
    (["--no-header"], False), (["--numbered"], False)])
def test_xdist_is_loaded_only_when_asked_for(extra: list[str], xdist: bool) -> None:
    argv = _engine_args(extra)
    assert argv[0] == "--assert=plain"
    assert (argv[1:] == ["-p", "xdist.plugin"]) is xdist


def test_autoload_is_off_for_the_run_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AUTOLOAD, raising=False)
    with _no_plugin_autoload():
        assert os.environ[AUTOLOAD] == "1"
    assert AUTOLOAD not in os.environ
    monkeypatch.setenv(AUTOLOAD, "0")
    with _no_plugin_autoload():
        pass
    assert os.environ[AUTOLOAD] == "0"
