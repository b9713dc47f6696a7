"""Judges of resources, processes and status pages (seeds/002, 003, 004), both ways, and the
parsers of what they read."""

from __future__ import annotations

import pytest

from rs_preflight.gather.facts.resources import parse_disk_usage, parse_meminfo
from rs_preflight.judge.processes import processes_running
from rs_preflight.judge.resources import file_descriptors, filesystem_usage, memory_usage
from rs_preflight.judge.status import status_page

DF = """\
Filesystem     1024-blocks      Used Available Capacity Mounted on
/dev/sda1         10000000   8900000   1100000      89% /
tmpfs               100000         0    100000       0% /run
/dev/sdb1         20000000  19000000    200000      99% /var/lib/docker
"""


def test_df_parses_without_the_pseudo_filesystems() -> None:
    got = parse_disk_usage(0, DF)
    assert [fs["target"] for fs in got] == ["/", "/var/lib/docker"]
    assert got[1] == {"source": "/dev/sdb1", "target": "/var/lib/docker",
                      "size_kb": 20000000, "used_kb": 19000000, "avail_kb": 200000}


def test_each_path_is_judged_on_the_filesystem_it_lives_on() -> None:
    fs = parse_disk_usage(0, DF)
    assert filesystem_usage(fs, ["/", "/var/lib/mongodb"], 90).outcome == "passed"
    got = filesystem_usage(fs, ["/", "/var/lib/docker/volumes"], 90)
    assert got.outcome == "failed"
    assert got.message == "filesystem(s) fuller than 90 %: /var/lib/docker (99 % used)"
    assert got.found == "/ 89 % used, /var/lib/docker 99 % used"


def test_memory_in_use_is_what_the_kernel_cannot_give_back() -> None:
    info = parse_meminfo(0, "MemTotal:  8000000 kB\nMemFree: 100000 kB\n"
                            "MemAvailable: 2000000 kB\nSwapTotal: 0 kB\n")
    assert memory_usage(info, 85).outcome == "passed"  # 75 % in use
    got = memory_usage(info, 70)
    assert got.outcome == "failed" and got.found == "75 % in use (5859 of 7812 MiB)"


def test_the_kernel_file_table() -> None:
    assert file_descriptors({"allocated": 4000, "unused": 0, "max": 100000}, 80).outcome == \
        "passed"
    assert file_descriptors({"allocated": 90000, "unused": 0, "max": 100000}, 80).outcome == \
        "failed"


PS = [("akd", "AK:api"), ("akd", "AK:proccsmsev --config main.json"),
      ("beam.smp", "/usr/lib/erlang/erts/bin/beam.smp -- -name whapps@app1"),
      ("freeswitch", "/usr/bin/freeswitch -nc")]


@pytest.mark.parametrize(("wanted", "match", "missing"), [
    (["AK:api", ["AK:procsmssev", "AK:proccsmsev"]], "argv0", None),
    (["AK:api", "AK:webcontrol", ["AK:procsmslisten", "AK:proccsmlisten"]], "argv0",
     "AK:webcontrol, AK:procsmslisten (or AK:proccsmlisten)"),
    (["freeswitch"], "comm", None),
    (["-name whapps", "-name ecallmgr"], "args", "-name ecallmgr"),
])
def test_every_process_of_the_list_runs(wanted: list[str | list[str]], match: str,
                                         missing: str | None) -> None:
    got = processes_running(PS, wanted, match)
    if missing is None:
        assert got.outcome == "passed", got.message
    else:
        assert got.outcome == "failed" and got.message.endswith(f"not running: {missing}")


@pytest.mark.parametrize(("status", "body", "outcome", "message"), [
    (200, "OK", "passed", "https://p/status says OK"),
    (200, "ОК\n", "passed", "https://p/status says ОК"),  # the guide's Cyrillic spelling
    (200, "procworkflow\ntrkread\n", "failed",
     "https://p/status names a failing service: procworkflow trkread"),
    (502, "Bad Gateway", "failed", "https://p/status answered HTTP 502"),
    (200, "  ", "failed", "https://p/status is empty"),
])
def test_the_status_page_says_ok_or_names_the_failing_service(
        status: int, body: str, outcome: str, message: str) -> None:
    got = status_page(status, body, ["OK", "ОК"], "https://p/status")
    assert (got.outcome, got.message) == (outcome, message)
