"""What several judges share: one site-level verdict of many labelled parts."""

from __future__ import annotations

from rs_preflight.judge.common import every
from rs_preflight.spec.results import ERROR, FAILED, PASSED, SKIPPED, error, failed, passed


def test_every_part_that_is_not_passed_is_named_and_an_error_wins() -> None:
    parts = [("couch", passed("couch ok", "x", "x")),
             ("pbx", failed("pbx wrong", "A 1", "A 2")),
             ("self", error("resolver silent"))]
    v = every("names", parts)
    assert v.outcome == ERROR  # could not check one: not a verdict on the site
    assert v.message == "names: pbx: pbx wrong; self: resolver silent"   # the failure stays
    assert (v.expected, v.found) == ("pbx: A 1", "pbx: A 2")
    v = every("names", parts[:2])
    assert (v.outcome, v.message) == (FAILED, "names: pbx: pbx wrong")


def test_all_passed_lists_each_and_nothing_is_skipped() -> None:
    v = every("names", [("a", passed("a ok", "ea", "fa")), ("b", passed("b ok", "eb", "fb"))])
    assert (v.outcome, v.message, v.expected, v.found) == (
        PASSED, "names: a ok; b ok", "a: ea; b: eb", "a: fa; b: fb")
    assert every("names", []).outcome == SKIPPED
