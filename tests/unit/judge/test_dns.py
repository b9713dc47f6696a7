"""RS-DNS judges: truth tables, the RFC 7208 suite's record selection, DKIM keys as keys."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from rs_preflight.gather.probes.records import ERROR, NODATA, NXDOMAIN, OK, Lookup
from rs_preflight.judge import dns as judge
from rs_preflight.spec import dnsnames
from rs_preflight.spec.results import ERROR as ERR
from rs_preflight.spec.results import FAILED, PASSED

ORACLES = Path(__file__).parents[2] / "data" / "oracles"  # vendored: tests/data/oracles
LB = ["192.0.2.10", "2001:db8::10"]


def addrs(a: list[str] | str = (), aaaa: list[str] | str = ()) -> list[Lookup]:  # type: ignore[assignment]
    def one(rdtype: str, values: list[str] | str) -> Lookup:
        if isinstance(values, str):
            return Lookup("n", rdtype, values, detail="timed out")
        return Lookup("n", rdtype, OK, tuple(values)) if values else Lookup("n", rdtype, NODATA)
    return [one("A", a), one("AAAA", aaaa)]


@pytest.mark.parametrize(("lookups", "outcome", "text"), [
    (addrs(["192.0.2.10"], ["2001:db8::10"]), PASSED, "resolves to the load balancer"),
    (addrs(["192.0.2.10"]), PASSED, "192.0.2.10"),                       # no AAAA is fine
    (addrs(aaaa=["2001:0db8:0000::0010"]), PASSED, "2001:db8::10"),      # compared as addresses
    (addrs(["192.0.2.10", "198.51.100.7"]), FAILED, "198.51.100.7"),     # one of two elsewhere
    (addrs(["192.0.2.10"], ["2001:db8::99"]), FAILED, "2001:db8::99"),   # AAAA elsewhere
    (addrs(), FAILED, "does not resolve"),
    ([Lookup("n", "A", NXDOMAIN), Lookup("n", "AAAA", NXDOMAIN)], FAILED, "does not resolve"),
    (addrs(ERROR), ERR, "did not answer"),
])
def test_resolves_to(lookups: list[Lookup], outcome: str, text: str) -> None:
    verdict = judge.resolves_to("api.rs.example.com", lookups, LB)
    assert verdict.outcome == outcome
    assert text in verdict.message or text in (verdict.found or "")
    if outcome == FAILED:
        assert verdict.expected and "192.0.2.10" in verdict.expected


def test_several_names_name_each_failure() -> None:
    verdict = judge.all_resolve_to([("io.d", addrs(["198.51.100.7"])),
                                    ("api.d", addrs(["192.0.2.10"])),
                                    ("graphql.d", addrs())], LB)
    assert verdict.outcome == FAILED
    assert "io.d" in verdict.message and "graphql.d" in verdict.message
    assert "api.d" not in verdict.message


def test_predetermined_names_defaults_and_overrides() -> None:
    default = [n for n, _ in dnsnames.predetermined_names({}, "rs.example.com")]
    assert default == [f"{p}.rs.example.com" for p in ("api", "graphql", "oauth", "assets0",
                                                       "assets1", "assets2", "assets3",
                                                       "realtime", "io")]
    custom = dict(dnsnames.predetermined_names({
        "ITRP_API_SUBDOMAIN": "rest", "ITRP_ASSETS_HOSTS": "static1, static2.cdn.example.com",
        "FAYE_URL": "https://push.rs.example.com/faye", "ITRP_SHORT_URL_DOMAIN": "go.example.com",
    }, "rs.example.com"))
    assert custom["rest.rs.example.com"] == "ITRP_API_SUBDOMAIN"
    assert "static1.rs.example.com" in custom and "static2.cdn.example.com" in custom
    assert custom["push.rs.example.com"] == "host of FAYE_URL"
    assert "go.example.com" in custom and "io.rs.example.com" not in custom
    assert dnsnames.realtime_name({"FAYE_URL": "https://Push.rs.example.com"}, "x") == \
        "push.rs.example.com"


# -- SPF: the openspf RFC 7208 suite's record selection -------------------------------------------

def _spf_cases() -> list[Any]:
    path = ORACLES / "rfc7208-spf-tests.yml"
    cases = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["description"] not in ("Record lookup", "Selecting records"):
            continue
        for name, test in doc["tests"].items():
            domain = test["mailfrom"].rsplit("@", 1)[1]
            records = doc["zonedata"].get(domain, [])
            if "TIMEOUT" in records:
                continue
            cases.append(pytest.param(_txt(records), test["result"], id=name))
    return cases


def _txt(records: list[Any]) -> list[str]:
    """TXT strings of a suite zone entry: its TXT records, or (the suite's convention) its SPF
    records when it has no TXT entry at all; multi-string records join with nothing between."""
    def text(v: Any) -> str:
        return "".join(v) if isinstance(v, list) else str(v)
    txt = [r["TXT"] for r in records if isinstance(r, dict) and "TXT" in r]
    if not txt:
        txt = [r["SPF"] for r in records if isinstance(r, dict) and "SPF" in r]
    return [text(t) for t in txt if t != "NONE"]


@pytest.mark.parametrize(("txt", "result"), _spf_cases())
def test_spf_record_selection_agrees_with_rfc7208_suite(txt: list[str], result: Any) -> None:
    results = result if isinstance(result, list) else [result]
    found = judge.spf_records(txt)
    if "none" in results:
        assert found == []
    elif "permerror" in results:
        assert len(found) > 1
    else:
        assert len(found) == 1
    verdict = judge.spf_present("d", Lookup("d", "TXT", OK, tuple(txt)))
    assert verdict.outcome == (PASSED if len(found) == 1 else FAILED)
    if verdict.outcome == FAILED:
        assert verdict.severity == "warning"


# -- MX, DKIM -------------------------------------------------------------------------------------

def test_mx() -> None:
    assert judge.mx_present("d", Lookup("d", "MX", OK, ("mx.d",))).outcome == PASSED
    missing = judge.mx_present("d", Lookup("d", "MX", NODATA))
    assert missing.outcome == FAILED and missing.severity is None  # the blocker part


def pem(key: Any) -> str:
    return str(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode())


def spki_b64(key: Any) -> str:
    return base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return (rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa.generate_private_key(public_exponent=65537, key_size=2048))


def txt(*values: str) -> Lookup:
    return Lookup("s._domainkey.d", "TXT", OK, values)


def test_dkim_same_key_passes_however_written(keys: Any) -> None:
    mine, _ = keys
    p = spki_b64(mine)
    folded = " ".join(p[i:i + 60] for i in range(0, len(p), 60))  # whitespace in p= is legal
    for record in (f"v=DKIM1; k=rsa; p={p}", f"p={folded};", f"k=rsa;p={p}; t=s"):
        assert judge.dkim_matches("s._domainkey.d", txt(record), pem(mine)).outcome == PASSED
    one_line = pem(mine).replace("\n", "\\n")  # a .env value on one line
    assert judge.dkim_matches("s._domainkey.d", txt(f"p={p}"), one_line).outcome == PASSED


def test_dkim_other_key_fails_without_showing_the_private_key(keys: Any) -> None:
    mine, other = keys
    verdict = judge.dkim_matches("s._domainkey.d", txt(f"v=DKIM1; k=rsa; p={spki_b64(other)}"),
                                 pem(mine))
    assert verdict.outcome == FAILED and "another key" in verdict.message
    secret_body = pem(mine).splitlines()[1]
    assert all(secret_body not in (s or "") for s in (verdict.message, verdict.expected,
                                                       verdict.found))


@pytest.mark.parametrize(("record", "text"), [
    ("v=DKIM1; k=rsa; p=", "revoked"), ("v=DKIM1; p=!!notbase64", "does not hold a key"),
    ("v=spf1 -all", "no DKIM key record"),
])
def test_dkim_broken_records(keys: Any, record: str, text: str) -> None:
    verdict = judge.dkim_matches("s._domainkey.d", txt(record), pem(keys[0]))
    assert verdict.outcome == FAILED and text in verdict.message


def test_dkim_missing_record_and_bad_private_key(keys: Any) -> None:
    gone = judge.dkim_matches("s._domainkey.d", Lookup("s._domainkey.d", "TXT", NXDOMAIN),
                              pem(keys[0]))
    assert gone.outcome == FAILED
    assert judge.dkim_matches("x", txt("p=AAAA"), "not a key").outcome == ERR


def test_dkim_ed25519_raw_key() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    record = f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    assert judge.dkim_matches("s._domainkey.d", txt(record), pem(key)).outcome == PASSED


# -- a name and its address, both ways (VOIP-DNS-01, VOIP-FLOAT-02) -------------------------------
V6 = "fd75:9fac:a7b1:92:6c::901"
NAME = "couch1.db.rcsnet.ru"
REV = "1.0.9.0.0.0.0.0.0.0.0.0.c.6.0.0.2.9.0.0.1.b.7.a.c.a.f.9.5.7.d.f.ip6.arpa"


def aaaa(*values: str, status: str = OK) -> Lookup:
    return Lookup(NAME, "AAAA", status if not values else OK, tuple(values),
                  "LifetimeTimeout: 3 s" if status == ERROR else "")


def ptr(*values: str, status: str = OK) -> Lookup:
    return Lookup(REV, "PTR", status if not values else OK, tuple(values),
                  "LifetimeTimeout: 3 s" if status == ERROR else "")


def test_a_name_that_resolves_to_its_address_and_back_passes() -> None:
    v = judge.name_and_back(NAME, V6, aaaa("fd75:9fac:a7b1:92:6c:0:0:901"), ptr(NAME + "."))
    assert (v.outcome, v.message) == (PASSED, f"{NAME} → {V6} → {NAME}")
    assert v.expected == f"{NAME} AAAA {V6}; PTR of {V6} → {NAME}"
    assert v.found == f"AAAA of {NAME}: {V6}; PTR of {V6}: {NAME}"
    # other addresses beside the host's are said, not failed; without reverse no PTR is asked
    v = judge.name_and_back(NAME, V6, aaaa(V6, "fd75::1"))
    assert (v.outcome, v.message) == (PASSED, f"{NAME} → {V6} (and fd75::1)")


@pytest.mark.parametrize(("forward", "back", "message", "found"), [
    (aaaa(status=NXDOMAIN), ptr(NAME),
     f"{NAME} does not exist at the site's resolvers (NXDOMAIN)",
     f"AAAA of {NAME}: NXDOMAIN (no such name); PTR of {V6}: {NAME}"),
    (aaaa(status=NODATA), ptr(NAME), f"{NAME} has no AAAA record",
     f"AAAA of {NAME}: no AAAA record; PTR of {V6}: {NAME}"),
    (aaaa("fd75:9fac:a7b1:92:6c::601"), ptr(NAME),
     f"{NAME} resolves to fd75:9fac:a7b1:92:6c::601, not to {V6}",
     f"AAAA of {NAME}: fd75:9fac:a7b1:92:6c::601; PTR of {V6}: {NAME}"),
    (aaaa(V6), ptr(status=NXDOMAIN), f"{V6} has no PTR record ({REV}: NXDOMAIN (no such name))",
     f"AAAA of {NAME}: {V6}; PTR of {V6}: NXDOMAIN (no such name)"),
    (aaaa(V6), ptr("couch2.db.rcsnet.ru."),
     f"the PTR of {V6} names couch2.db.rcsnet.ru, not {NAME}",
     f"AAAA of {NAME}: {V6}; PTR of {V6}: couch2.db.rcsnet.ru"),
    (aaaa(status=NXDOMAIN), ptr("other.example"),   # both wrong: both said
     f"{NAME} does not exist at the site's resolvers (NXDOMAIN); the PTR of {V6} names "
     f"other.example, not {NAME}",
     f"AAAA of {NAME}: NXDOMAIN (no such name); PTR of {V6}: other.example"),
])
def test_each_wrong_direction_is_failed_with_what_was_found(
        forward: Lookup, back: Lookup, message: str, found: str) -> None:
    v = judge.name_and_back(NAME, V6, forward, back)
    assert (v.outcome, v.message, v.found) == (FAILED, message, found)
    assert v.expected == f"{NAME} AAAA {V6}; PTR of {V6} → {NAME}"


def test_a_resolver_that_does_not_answer_is_an_error_not_a_failure() -> None:
    v = judge.name_and_back(NAME, V6, aaaa(V6), ptr(status=ERROR))
    assert v.outcome == ERR
    assert v.message == (f"PTR of {REV}: the site's resolvers did not answer "
                         "(LifetimeTimeout: 3 s)")
    assert judge.name_and_back(NAME, V6, aaaa(status=ERROR)).outcome == ERR


def test_an_ipv4_name_is_compared_as_an_a_record() -> None:
    a = Lookup("pbx.rcsnet.ru", "A", OK, ("91.103.196.14",))
    v = judge.name_and_back("pbx.rcsnet.ru", "91.103.196.13", a)
    assert (v.outcome, v.message, v.expected) == (
        FAILED, "pbx.rcsnet.ru resolves to 91.103.196.14, not to 91.103.196.13",
        "pbx.rcsnet.ru A 91.103.196.13")
