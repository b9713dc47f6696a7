"""Judges are pure: truth tables, no hosts."""

from __future__ import annotations

import pytest

from rs_preflight.judge import env, sysctl
from rs_preflight.judge import os as os_judge
from rs_preflight.judge.common import at_least
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.envfile import EnvValue
from rs_preflight.spec.results import FAILED, PASSED

SUPPORTED = load_catalogue()["RS-OS-01"].params["supported"]


@pytest.mark.parametrize(("os_id", "version", "outcome"), [
    ("ubuntu", "24.04", PASSED), ("ubuntu", "24.10", PASSED), ("ubuntu", "26.04", PASSED),
    ("ubuntu", "22.04", FAILED), ("rhel", "9.4", PASSED), ("rhel", "9", PASSED),
    ("rhel", "8.10", FAILED), ("rhel", "10.0", FAILED), ("astra", "1.8_x86-64", PASSED),
    ("astra", "1.7_x86-64", FAILED), ("astra", "1.8", PASSED), ("debian", "12", FAILED),
    ("rocky", "9.4", FAILED), ("ubuntu", "", FAILED),
])
def test_os_supported(os_id: str, version: str, outcome: str) -> None:
    verdict = os_judge.os_supported({"ID": os_id, "VERSION_ID": version}, SUPPORTED)
    assert verdict.outcome == outcome
    assert version in (verdict.found or "")  # says what was found


def test_os_failure_names_the_rule() -> None:
    verdict = os_judge.os_supported({"ID": "ubuntu", "VERSION_ID": "22.04",
                                 "PRETTY_NAME": "Ubuntu 22.04.4 LTS"}, SUPPORTED)
    assert verdict.message == "Ubuntu 22.04.4 LTS is not a supported version of Ubuntu"
    assert verdict.expected == "Ubuntu >= 24.04"


@pytest.mark.parametrize(("found", "outcome"), [(8192, PASSED), (8191, FAILED),
                                                (None, PASSED), (1024, FAILED)])
def test_at_least(found: int | None, outcome: str) -> None:
    assert at_least("nofile", found, 8192).outcome == outcome


def test_sysctl_says_whether_persisted() -> None:
    ok = sysctl.sysctl_at_least("vm.max_map_count", {"vm.max_map_count": 262144},
                              {"vm.max_map_count": ("262144", "/etc/sysctl.d/99-rs.conf")},
                              262144)
    assert ok.outcome == PASSED and "persisted as 262144 in /etc/sysctl.d/99-rs.conf" in ok.message
    low = sysctl.sysctl_at_least("vm.max_map_count", {"vm.max_map_count": 65530}, {}, 262144)
    assert low.outcome == FAILED and "not persisted" in low.message
    assert (low.expected, low.found) == (">= 262144", "65530")


def vals(**kw: str) -> dict[str, EnvValue]:
    return {k: EnvValue(k, v, f".env:{i}") for i, (k, v) in enumerate(kw.items(), 1)}


SECRETS = ["ITRP_OTP_SECRET", "FAYE_SECRET_TOKEN", "ITRP_OTP_SALT"]
PLACEHOLDERS = ["changeme", "secret"]


def test_secrets_are_never_shown() -> None:
    canary = "short-canary"
    verdict = env.secrets_strong(
        vals(ITRP_OTP_SECRET=canary, FAYE_SECRET_TOKEN="x" * 40,
             ITRP_OTP_SALT="changeme" + "a1b2c3d4" * 4), SECRETS, 32, PLACEHOLDERS)
    assert verdict.outcome == FAILED
    text = f"{verdict.message} {verdict.expected} {verdict.found}"
    assert canary not in text
    assert "ITRP_OTP_SECRET is 12 characters (needs >= 32)" in text
    assert "FAYE_SECRET_TOKEN looks like a placeholder" in text
    assert "ITRP_OTP_SALT looks like a placeholder (contains 'changeme')" in text


def test_secrets_must_differ() -> None:
    same = "9f8e7d6c5b4a39281706f5e4d3c2b1a0aa"
    verdict = env.secrets_strong(vals(ITRP_OTP_SECRET=same, FAYE_SECRET_TOKEN=same,
                                      ITRP_OTP_SALT="0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
                                 SECRETS, 32, PLACEHOLDERS)
    assert verdict.outcome == FAILED and same not in verdict.message
    assert "ITRP_OTP_SECRET and FAYE_SECRET_TOKEN have the same value" in verdict.message


def test_required_is_per_role() -> None:
    required = {"all": ["ITRP_DOMAIN"], "job": ["CLACKS_ADDRESS"]}
    verdict = env.required({"app": vals(ITRP_DOMAIN="d"), "job": vals(ITRP_DOMAIN="d")},
                           required)
    assert verdict.outcome == FAILED and verdict.found == "job: CLACKS_ADDRESS"


def test_enumerations_and_https() -> None:
    t = load_catalogue()["RS-ENV-04"].params
    bad = env.enumerations(vals(DB_SSL_MODE="verify", CLACKS_ENABLE_SSL="yes"),
                           t["enums"], t["booleans"])
    assert bad.outcome == FAILED
    assert "DB_SSL_MODE='verify' (.env:1) is not one of DISABLED" in bad.message
    assert "CLACKS_ENABLE_SSL='yes'" in bad.message
    assert env.https_on(vals(ITRP_SSL="false")).outcome == FAILED
    assert env.https_on(vals(ITRP_SSL="true")).outcome == PASSED


def test_consistency() -> None:
    def known(name: str) -> bool:
        return name in {"db1", "rt1"}

    good = env.consistency(vals(FAYE_URL="https://realtime.rs.lab", DB_WRITER_HOST="db1",
                                ELASTICSEARCH_URLS="http://10.0.0.5:9200,https://10.0.0.6"),
                           "rs.lab", known)
    assert good.outcome == PASSED
    bad = env.consistency(vals(FAYE_URL="http://realtime.other.org", REDIS_HOST="nowhere",
                               ELASTICSEARCH_URLS="http://x:notaport"), "rs.lab", known)
    assert bad.outcome == FAILED
    assert "FAYE_URL is not https" in bad.message
    assert "ELASTICSEARCH_URLS entry 'http://x:notaport' is not a URL" in bad.message
    assert "REDIS_HOST=nowhere" in bad.message
