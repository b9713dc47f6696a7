"""The one redactor (``rs_preflight.spec.redact``): secret names, the URL formatter, cuts at a
blank, the logging filter, and what the site registers (URL passwords of every setting)."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rs_preflight.spec import redact
from rs_preflight.spec.envfile import EnvValue, is_secret_name
from rs_preflight.spec.redact import MASK, RedactingFilter, Redactor, clip, safe_url, url_passwords
from rs_preflight.spec.site import load_site


@pytest.mark.parametrize(("name", "secret"), [
    ("DB_WRITER_PASSWORD", True), ("RABBIT_MQ_PASS", True), ("SMTP_PASSWD", True),
    ("PASS", True), ("MQ_PASS_FILE", True), ("FAYE_SECRET_TOKEN", True), ("STORAGE_KEY", True),
    ("AWS_CREDENTIALS", True), ("PASSENGER_MAX_POOL", False), ("BYPASS_PROXY", False),
    ("ITRP_SSL", False), ("ELASTICSEARCH_URLS", False), ("COMPASS_URL", False)])
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(("url", "shown"), [
    ("https://admin:S3cr3tPw@search1:9200/", "https://admin:<redacted>@search1:9200/"),
    ("https://admin:S3c@r3t@search1:99999", "https://admin:<redacted>@search1:99999"),
    ("http://faye:pw%40x@rt.example.com/faye?token=abcdef",
     "http://faye:<redacted>@rt.example.com/faye?token=<redacted>"),
    ("search1:9200", "search1:9200"),
    ("https://[::1:9200", "https://[::1:9200")])
def test_safe_url_masks_and_never_raises(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_env_value_shown_masks_secrets_and_url_credentials() -> None:
    assert EnvValue("RABBIT_MQ_PASS", "hunter2pw", ".env:1").shown() == MASK
    assert EnvValue("FAYE_URL", "https://u:pw12345@rt/faye", ".env:2").shown() == \
        "https://u:<redacted>@rt/faye"


def test_url_passwords_raw_and_decoded() -> None:
    assert url_passwords("a https://u:p%40ss%2Fw0rd@h b") == {"p%40ss%2Fw0rd", "p@ss/w0rd"}


def test_clip_drops_the_token_the_cut_would_split() -> None:
    assert clip("error: token Qabcdefghij rest", 18) == "error: token…"
    assert clip("short", 18) == "short"


def test_the_logging_filter_redacts_message_arguments_and_tracebacks() -> None:
    redactor = Redactor(["hunter2-secret"])
    try:
        raise ValueError("bad hunter2-secret")
    except ValueError:
        record = logging.LogRecord("rs_preflight", logging.WARNING, __file__, 1,
                                   "login %s --password %s", ("hunter2-secret", "x9y8z7w6"),
                                   exc_info=sys.exc_info())
    assert RedactingFilter(redactor).filter(record)
    assert record.getMessage() == "login <redacted> --password <redacted>"
    assert record.exc_text is not None and "hunter2" not in record.exc_text


def test_the_site_registers_the_password_of_every_url_setting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "ELASTICSEARCH_URLS=https://admin:EsPw1234@s1:9200,https://admin:EsPw5678@s2:9200\n"
        "FAYE_URL=https://faye:FayePw99@rt.example.com/faye\nRABBIT_MQ_PASS=RabbitPw7\n")
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent("""
        name: x
        env_files: [.env]
        settings: {ITRP_SSL: true, HOOK_URL: 'https://h:HookPw42@hooks.example.com'}
        hosts: {app1: {roles: [app]}}
    """).lstrip())
    site = load_site(path)
    text = "EsPw1234 EsPw5678 FayePw99 HookPw42 RabbitPw7 true"
    assert site.redactor(text) == " ".join([MASK] * 5 + ["true"])


# The rules' cheap pre-tests ("may it match at all?") never change what is masked: a text the
# pre-test lets through is scanned as before, and one it stops could not have matched.
_PIECES = ["pass", "PASS", "Pa\u017f\u017fword", "pwd", "secret", "token", "api-KEY", "ke",
           "y", "salt", "credent\u0130al", "credent\u0131als", "\u212aey", "word", "=", ": ",
           " ", "--", "-", "://", "@", "user", ":", "x", "\n", "\"", "'", "600", "abc123",
           "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "PRIVATE KEY",
           "https://", "postgres://rs:", "_", "."]


@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
@settings(max_examples=400, deadline=None)
def test_the_pre_tests_change_nothing_that_is_masked(text: str) -> None:
    with_pre_tests = Redactor(["hunter2-pw"])
    without = Redactor(["hunter2-pw"])
    without._rules = dict(without.rules)  # the same rules, the two expressions scanning all
    # (the PEM rule's pre-test is its own expression's literal "PRIVATE KEY-----")
    for name in ("url-credentials", "secret-assignment"):
        without._rules[name] = _unfiltered(name)
    assert with_pre_tests.apply("m", text) == without.apply("m", text)


def _unfiltered(name: str) -> redact.Rule:
    if name == "url-credentials":
        return redact._masking(redact.URL_CREDENTIALS)
    return redact._masking(redact.SECRET_ASSIGNMENT, redact.SECRET_OPTION,
                           keep=redact.PLAIN_VALUE)


@pytest.mark.parametrize("word", ["PASSWORD", "Pa\u017f\u017fword", "credent\u0131al",
                                  "api_\u212aey"])
def test_a_long_text_is_pre_tested_in_place_with_the_same_answer(word: str) -> None:
    text = "x" * 70_000 + "\u2192 " + word + "=abcd1234 tail"
    assert Redactor([])(text).endswith(f"{word}={MASK} tail")
