"""The one-round-trip fact script: splitting, parsing, and hostile output."""

from __future__ import annotations

from rs_preflight.gather.facts import SECTIONS, split_output


def test_split_output_keeps_exit_codes_and_text() -> None:
    out = "\n@@M@@ a\nhello\nworld\n@@M@@ rc=0\n\n@@M@@ b\n\n@@M@@ rc=3\n"
    assert split_output(out, "@@M@@") == {"a": (0, "hello\nworld"), "b": (3, "")}


def test_a_line_that_mimics_a_marker_without_the_nonce_is_just_text() -> None:
    out = "\n@@X@@ a\n@@rs-fake@@ rc=0\nstill a\n@@X@@ rc=0\n"
    assert split_output(out, "@@X@@") == {"a": (0, "@@rs-fake@@ rc=0\nstill a")}


def test_os_release_parser_handles_quotes() -> None:
    text = 'NAME="Astra Linux"\nID=astra\nVERSION_ID=1.8_x86-64\nPRETTY_NAME="Astra Linux 1.8"\n'
    parsed = SECTIONS["os_release"].parse(0, text)
    assert parsed == {"NAME": "Astra Linux", "ID": "astra", "VERSION_ID": "1.8_x86-64",
                      "PRETTY_NAME": "Astra Linux 1.8"}


def test_sysctl_and_ulimit_parsers() -> None:
    assert SECTIONS["sysctl"].parse(0, "fs.file-max=9223372036854775807\nvm.max_map_count=\n") \
        == {"fs.file-max": 9223372036854775807, "vm.max_map_count": None}
    assert SECTIONS["ulimit_nofile"].parse(0, "8192\nunlimited\n") == {"soft": 8192,
                                                                       "hard": None}
    persisted = SECTIONS["sysctl_persisted"].parse(
        0, "/etc/sysctl.conf:# vm.max_map_count = 1\n"
           "/etc/sysctl.d/99.conf:vm.max_map_count = 262144\n")
    assert persisted == {"vm.max_map_count": ("262144", "/etc/sysctl.d/99.conf")}


def test_a_section_that_cannot_build_its_command_costs_only_itself() -> None:
    from rs_preflight.gather.facts import SECTIONS, Context, commands, section
    from rs_preflight.spec.site import default_site

    @section("test_broken", lambda ctx: ctx.needs["no_such_need"][0])
    def _parse(rc: int, text: str) -> str:
        return text

    try:
        site = default_site()
        built, failed = commands(Context(site, site.hosts[0]), ["os_release", "test_broken"])
        assert list(built) == ["os_release"]
        assert failed["test_broken"].startswith("no command for this site or catalogue")
    finally:
        del SECTIONS["test_broken"]


def test_a_section_printing_too_much_is_cut_on_the_host_and_marked() -> None:
    import shlex
    import subprocess

    from rs_preflight.gather.facts import cap_filter

    m = "@@rs-cap@@"
    script = (f"printf '\\n{m} big\\n'; yes xxxxxxxxx | head -c 3000; printf '\\n{m} rc=0\\n'; "
              f"printf '\\n{m} small\\n'; echo ok; printf '\\n{m} rc=3\\n'")
    out = subprocess.run(["sh", "-c", f"sh -c {shlex.quote(script)} | {cap_filter(m, 100)}"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    got = split_output(out, m)
    assert got["big"][1].endswith(f"CAPPED:{m}") and len(got["big"][1]) < 150
    assert got["small"] == (3, "ok")


def test_dockerd_limits_reads_its_line_whatever_else_the_host_printed() -> None:
    """Seen in CI under load: the section's output held another line before /proc/<pid>/limits'
    (split as a whole, its fourth word was a time); only the "Max open files" line counts."""
    import pytest

    from rs_preflight.gather.facts import FactUnavailable

    parse = SECTIONS["dockerd_limits"].parse
    limits = "Max open files            1048576              1048576              files"
    assert parse(0, "Wed Dec  2 12:07:14 UTC 2026\n" + limits) == {"soft": 1048576,
                                                                    "hard": 1048576}
    assert parse(0, "@@not-running@@") is None
    with pytest.raises(FactUnavailable, match="no 'Max open files' line"):
        parse(0, "grep: /proc/4242/limits: No such file or directory")
