"""RS-NET-01's judge: the link carrying the host's address, against the minimum speed."""

from __future__ import annotations

from typing import Any

import pytest

from rs_preflight.judge import net
from rs_preflight.spec.results import ERROR, FAILED, PASSED

LINKS: dict[str, Any] = {"addresses": {"192.0.2.21": "eth0", "10.0.0.5": "veth1",
                                       "2001:db8::21": "eth0"},
                         "speeds": {"eth0": 1000, "veth1": None, "eth1": 100}}


@pytest.mark.parametrize(("address", "minimum", "outcome", "found"), [
    ("192.0.2.21", 1000, PASSED, "1000 Mb/s"),
    ("2001:db8::21", 1000, PASSED, "1000 Mb/s"),
    ("192.0.2.21", 10000, FAILED, "1000 Mb/s"),
    ("10.0.0.5", 1000, PASSED, "unknown"),      # a virtual NIC says no speed: info only
    ("198.51.100.9", 1000, PASSED, "unknown"),  # NAT: no interface carries the address
])
def test_link_speed(address: str, minimum: int, outcome: str, found: str) -> None:
    verdict = net.link_speed(LINKS, address, minimum)
    assert (verdict.outcome, verdict.found, verdict.expected) == \
        (outcome, found, f">= {minimum} Mb/s")


def test_the_message_names_the_interface_or_why_it_is_not_judged() -> None:
    assert net.link_speed(LINKS, "192.0.2.21", 10000).message == "eth0 runs at 1000 Mb/s"
    assert "virtual NIC" in net.link_speed(LINKS, "10.0.0.5", 1000).message
    assert "no interface carries 198.51.100.9" in \
        net.link_speed(LINKS, "198.51.100.9", 1000).message


# -- VOIP-FLOAT-01: each floating address held by exactly one host of its pair -------------------
FLOAT = "fd75:9fac:a7b1:92:6c::900"


def holding(*extra: str, dadfailed: tuple[str, ...] = ()) -> dict[str, Any]:
    own = {"127.0.0.1": "lo", "::1": "lo", "fd75:9fac:a7b1:92:6c::901": "eth0"}
    return {"addresses": {**own, **{a: "eth0" for a in extra}}, "dadfailed": list(dadfailed),
            "speeds": {"eth0": None}}


def test_one_holder_passes_naming_it() -> None:
    v = net.floating_held(FLOAT, [("couch1", holding("fd75:9fac:a7b1:92:6c:0:0:900")),
                                  ("couch2", holding())])
    assert (v.outcome, v.message, v.found) == (
        PASSED, f"couch1 holds {FLOAT} (couch2 does not)",
        "couch1: holds it, couch2: does not")
    assert v.expected == f"exactly one of couch1, couch2 holds {FLOAT}"


def test_no_holder_is_the_service_down_and_two_a_split_brain() -> None:
    down = net.floating_held(FLOAT, [("couch1", holding()), ("couch2", holding())])
    assert (down.outcome, down.message) == (
        FAILED, f"service down: no host of couch1, couch2 holds {FLOAT}")
    both = net.floating_held(FLOAT, [("couch1", holding(FLOAT)), ("couch2", holding(FLOAT))])
    assert (both.outcome, both.message, both.found) == (
        FAILED, f"split brain: both couch1 and couch2 hold {FLOAT}",
        "couch1: holds it, couch2: holds it")
    three = net.floating_held(FLOAT, [(h, holding(FLOAT)) for h in ("a", "b", "c")])
    assert three.message == f"split brain: all of a, b and c hold {FLOAT}"


def test_a_host_that_could_not_be_read_is_an_error_unless_two_others_hold_it() -> None:
    v = net.floating_held(FLOAT, [("couch1", holding(FLOAT)), ("couch2", "connection refused")])
    assert v.outcome == ERROR
    assert v.message == (f"cannot tell who holds {FLOAT}: the addresses of couch2 "
                         "(connection refused) could not be read")
    assert net.floating_held(FLOAT, [("couch1", holding()), ("couch2", "timed out")]
                             ).outcome == ERROR
    # an empty address list is not "does not hold": ip printed nothing
    assert net.floating_held(FLOAT, [("couch1", holding()), ("couch2", {"addresses": {}})]
                             ).outcome == ERROR
    v = net.floating_held(FLOAT, [("a", holding(FLOAT)), ("b", holding(FLOAT)), ("c", "down")])
    assert (v.outcome, v.message) == (FAILED, f"split brain: both a and b hold {FLOAT}")


def test_an_address_whose_duplicate_address_detection_failed_is_not_held() -> None:
    v = net.floating_held(FLOAT, [("couch1", holding(FLOAT)),
                                  ("couch2", holding(FLOAT, dadfailed=(FLOAT,)))])
    assert (v.outcome, v.found) == (
        PASSED, "couch1: holds it, couch2: has it, duplicate address detection failed")


def test_the_links_section_lists_dadfailed_addresses() -> None:
    from rs_preflight.gather.facts import SECTIONS
    text = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
            "2: eth0@if9    inet6 fd00:221::9/64 scope global tentative dadfailed \\       "
            "valid_lft forever preferred_lft forever\n"
            "2: eth0@if9    inet6 fd00:221::5/64 scope global nodad \\       valid_lft forever\n"
            "@@speeds@@\neth0 \nlo \n")
    links = SECTIONS["links"].parse(0, text)
    assert links["addresses"] == {"127.0.0.1": "lo", "fd00:221::9": "eth0",
                                  "fd00:221::5": "eth0"}
    assert links["dadfailed"] == ["fd00:221::9"]
