"""The operating system's vendor end of life (kind ``os_end_of_life``, VOIP-OS-02): dates from
the requirement's params, today from the caller (the run's date), never the machine's clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from rs_preflight.judge.os import end_of_life
from rs_preflight.spec.results import ERROR, FAILED, PASSED, SKIPPED

RELEASES: list[dict[str, Any]] = [
    {"id": "centos", "version": "7", "name": "CentOS Linux 7", "eol": "2024-06-30"},
    {"id": "rocky", "version": "9", "name": "Rocky Linux 9", "eol": "2032-05-31"},
    {"id": "ubuntu", "version": "20.04", "name": "Ubuntu 20.04 LTS", "eol": "2025-05-31"},
    {"id": "rhel", "version": "8", "name": "RHEL 8", "eol": "2029-05-31"},
    {"id": "rhel", "version": "8.10", "name": "RHEL 8.10 (EUS)", "eol": "2030-05-31"},
]
CENTOS7 = {"NAME": "CentOS Linux", "VERSION": "7 (Core)", "ID": "centos",
           "VERSION_ID": "7", "PRETTY_NAME": "CentOS Linux 7 (Core)"}
TODAY = dt.date(2026, 12, 2)


def test_centos_7_is_past_its_end_of_life_and_says_since_when() -> None:
    v = end_of_life(CENTOS7, RELEASES, TODAY)
    assert v.outcome == FAILED
    assert v.message == ("CentOS Linux 7 reached its end of life on 2024-06-30 (885 days ago): "
                         "no security updates")
    assert v.expected == "a release before its end of life (CentOS Linux 7: 2024-06-30)"
    assert v.found == "CentOS Linux 7 (Core) (ID=centos, VERSION_ID=7), today 2026-12-02"


def test_before_the_date_it_passes_and_says_the_date() -> None:
    v = end_of_life(CENTOS7, RELEASES, dt.date(2024, 6, 29))
    assert (v.outcome, v.message) == (
        PASSED, "CentOS Linux 7 is supported by its vendor until 2024-06-30 (1 day left)")
    rocky = {"ID": "rocky", "VERSION_ID": "9.4", "PRETTY_NAME": "Rocky Linux 9.4 (Blue Onyx)"}
    v = end_of_life(rocky, RELEASES, TODAY)
    assert v.outcome == PASSED and "until 2032-05-31 (2007 days left)" in v.message


@pytest.mark.parametrize(("today", "outcome", "said"), [
    (dt.date(2024, 6, 29), PASSED, "(1 day left)"),
    (dt.date(2024, 6, 30), FAILED, "on 2024-06-30 (today)"),   # the date it ends
    (dt.date(2024, 7, 1), FAILED, "(1 day ago)"),
])
def test_the_edge_of_the_date(today: dt.date, outcome: str, said: str) -> None:
    v = end_of_life(CENTOS7, RELEASES, today)
    assert v.outcome == outcome and said in v.message


def test_a_release_matches_its_version_or_a_leading_part_of_it_the_longest_first() -> None:
    assert "CentOS Linux 7 reached" in end_of_life(
        {"ID": "centos", "VERSION_ID": "7.9.2009"}, RELEASES, TODAY).message
    assert "RHEL 8.10 (EUS) is supported" in end_of_life(
        {"ID": "rhel", "VERSION_ID": "8.10"}, RELEASES, TODAY).message
    assert "RHEL 8 is supported" in end_of_life(
        {"ID": "rhel", "VERSION_ID": "8.1"}, RELEASES, TODAY).message   # 8.1 is not 8.10
    assert "Ubuntu 20.04 LTS reached" in end_of_life(
        {"ID": "ubuntu", "VERSION_ID": "20.04"}, RELEASES, TODAY).message
    # 70 is not 7, and the ID decides (CentOS Stream has its own ID in the list or none)
    assert end_of_life({"ID": "centos", "VERSION_ID": "70"}, RELEASES, TODAY).outcome == SKIPPED


def test_a_release_the_list_does_not_name_is_skipped_saying_so() -> None:
    v = end_of_life({"ID": "ubuntu", "VERSION_ID": "24.04", "PRETTY_NAME": "Ubuntu 24.04 LTS"},
                    RELEASES, TODAY)
    assert v.outcome == SKIPPED
    assert v.message.startswith("no end-of-life date known for Ubuntu 24.04 LTS (ID=ubuntu, "
                                "VERSION_ID=24.04): the requirement's releases are CentOS "
                                "Linux 7, Rocky Linux 9")


def test_no_id_cannot_be_judged() -> None:
    v = end_of_life({"PRETTY_NAME": "Mystery"}, RELEASES, TODAY)
    assert v.outcome == ERROR and "no ID" in v.message


def test_the_voip_catalogue_dates_load_and_judge() -> None:
    from pathlib import Path

    from rs_preflight.spec.catalogue import load_catalogue
    voip = load_catalogue(Path(__file__).parents[3] / "examples" / "catalogues" / "voip.yaml")
    releases = voip["VOIP-OS-02"].params["releases"]
    assert end_of_life(CENTOS7, releases, TODAY).message.startswith(
        "CentOS Linux 7 reached its end of life on 2024-06-30")
    alma = {"ID": "almalinux", "VERSION_ID": "9.5"}
    assert end_of_life(alma, releases, TODAY).outcome == PASSED
