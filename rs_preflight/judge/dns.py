"""RS-DNS-*: names as the site's resolvers answer them (guide §4, §5, App. 1). Pure.

Inputs are :class:`~rs_preflight.gather.probes.records.Lookup` records; nothing here asks the
network. Which names a site serves is spec: :mod:`rs_preflight.spec.dnsnames`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from rs_preflight.gather.probes.records import ERROR, NXDOMAIN, OK, Lookup
from rs_preflight.spec.results import FAILED, Verdict, error, failed, passed, worst


def _norm(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def resolves_to(what: str, lookups: Sequence[Lookup], lb: Iterable[str]) -> Verdict:
    """RS-DNS-01/02/03 for one name: A/AAAA non-empty and ⊆ the load balancer's addresses."""
    lb_set = {_norm(a) for a in lb}
    expected = f"A/AAAA ⊆ load balancer {', '.join(sorted(lb_set))}"
    broken = [lk for lk in lookups if lk.status == ERROR]
    if broken:
        return error(f"{what}: the site's resolver did not answer "
                     f"({'; '.join(f'{lk.rdtype}: {lk.detail}' for lk in broken)})")
    found = "; ".join(f"{lk.rdtype} {lk.describe()}" for lk in lookups)
    got = {_norm(v) for lk in lookups if lk.status == OK for v in lk.values}
    if not got:
        return failed(f"{what} does not resolve", expected, found)
    elsewhere = sorted(got - lb_set)
    if elsewhere:
        return failed(f"{what} resolves to {', '.join(elsewhere)}, which is not the load "
                      f"balancer", expected, found)
    return passed(f"{what} resolves to the load balancer ({', '.join(sorted(got))})",
                  expected, found)


def all_resolve_to(results: Sequence[tuple[str, Sequence[Lookup]]], lb: Iterable[str]
                   ) -> Verdict:
    """Several names at once: every failure is named; passed says how many were checked."""
    verdicts = [resolves_to(what, lookups, lb) for what, lookups in results]
    bad = [v for v in verdicts if v.outcome != "passed"]
    if len(verdicts) == 1:
        return verdicts[0]
    if not bad:
        return passed(f"all {len(verdicts)} names resolve to the load balancer: "
                      f"{', '.join(what for what, _ in results)}",
                      verdicts[0].expected if verdicts else None,
                      "; ".join(f"{w}: {v.found}" for (w, _), v in zip(results, verdicts,
                                                                       strict=True)))
    return worst(bad)


# -- a name and its address, both ways (VOIP-DNS-01, VOIP-FLOAT-02) -------------------------------

def name_and_back(name: str, address: str, forward: Lookup, back: Lookup | None = None
                  ) -> Verdict:
    """``forward`` (the A or AAAA of ``name``) includes ``address``; with ``back`` (the PTR of
    ``address``), that names ``name`` too. Every problem is said with what was found (both
    directions, when both are wrong); a resolver that did not answer is an error.

    >>> name_and_back("db1.example", "2001:db8::1",
    ...               Lookup("db1.example", "AAAA", "ok", ("2001:db8::1",))).outcome
    'passed'
    """
    addr = _norm(address)
    rdtype = forward.rdtype
    expected = f"{name} {rdtype} {addr}" + (f"; PTR of {addr} → {name}" if back else "")
    silent = [lk for lk in (forward, back) if lk is not None and lk.status == ERROR]
    if silent:
        return error("; ".join(f"{lk.rdtype} of {lk.name}: the site's resolvers did not "
                               f"answer ({lk.detail})" for lk in silent))
    problems: list[str] = []
    got = [_norm(v) for v in forward.values] if forward.status == OK else []
    found = [f"{rdtype} of {name}: {_shown(forward, got)}"]
    if forward.status == NXDOMAIN:
        problems.append(f"{name} does not exist at the site's resolvers (NXDOMAIN)")
    elif not got:
        problems.append(f"{name} has no {rdtype} record")
    elif addr not in got:
        problems.append(f"{name} resolves to {', '.join(got)}, not to {addr}")
    if back is not None:
        names = [v.lower().rstrip(".") for v in back.values] if back.status == OK else []
        found.append(f"PTR of {addr}: {', '.join(names) or back.describe()}")
        if not names:
            problems.append(f"{addr} has no PTR record ({back.name}: {back.describe()})")
        elif name.lower().rstrip(".") not in names:
            problems.append(f"the PTR of {addr} names {', '.join(names)}, not {name}")
    if problems:
        return failed("; ".join(problems), expected, "; ".join(found))
    others = [a for a in got if a != addr]
    also = f" (and {', '.join(others)})" if others else ""
    return passed(f"{name} → {addr}{also}" + (f" → {name}" if back else ""), expected,
                  "; ".join(found))


def _shown(lookup: Lookup, got: Sequence[str]) -> str:
    return ", ".join(got) if got else lookup.describe()


# -- mail ----------------------------------------------------------------------------------------

def mx_present(domain: str, mx: Lookup) -> Verdict:
    """RS-DNS-04: the inbound mail domain has MX."""
    if mx.status == ERROR:
        return error(f"MX of {domain}: the site's resolver did not answer ({mx.detail})")
    if mx.status != OK:
        return failed(f"the inbound mail domain {domain} has no MX record",
                      f"MX at {domain}", mx.describe())
    return passed(f"MX of {domain}: {', '.join(mx.values)}")


def spf_records(txt: Iterable[str]) -> list[str]:
    """The SPF records among TXT strings (RFC 7208 §4.5: ``v=spf1`` then a space or the end)."""
    return [t for t in txt if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def spf_present(domain: str, txt: Lookup, severity: str = "warning") -> Verdict:
    """RS-DNS-04 (warning): exactly one SPF record at ``domain``."""
    if txt.status == ERROR:
        return error(f"TXT of {domain}: the site's resolver did not answer ({txt.detail})")
    found = spf_records(txt.values if txt.status == OK else ())
    if len(found) == 1:
        return passed(f"SPF of {domain}: {found[0]}")
    shown = " | ".join(found) if found else txt.describe() if txt.status != OK else \
        f"TXT without v=spf1: {' | '.join(txt.values)}"
    what = "no SPF record" if not found else f"{len(found)} SPF records (RFC 7208: permerror)"
    return Verdict(FAILED, f"{domain} has {what}", "exactly one TXT v=spf1 record", shown,
                   severity)


def dkim_tags(record: str) -> dict[str, str]:
    """``tag=value`` pairs of a DKIM key record (RFC 6376 §3.6.1); whitespace is folded."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip()] = "".join(value.split())
    return tags


def dkim_matches(owner: str, txt: Lookup, private_key_pem: str) -> Verdict:
    """RS-DNS-04: the TXT at ``owner`` publishes the public key of ``private_key_pem``.

    Keys are compared as keys (SubjectPublicKeyInfo DER, or Ed25519 raw bytes), never as text;
    the private key is never shown.
    """
    if txt.status == ERROR:
        return error(f"TXT of {owner}: the site's resolver did not answer ({txt.detail})")
    try:
        mine = _public_der(private_key_pem)
    except ValueError as exc:
        return error(f"MAIL_DKIM_PRIVATE_KEY is not a usable private key: {exc}")
    expected = f"TXT at {owner}: v=DKIM1; p=<the public key of MAIL_DKIM_PRIVATE_KEY>"
    records = [dkim_tags(v) for v in (txt.values if txt.status == OK else ())]
    records = [r for r in records if "p" in r]
    if not records:
        return failed(f"no DKIM key record at {owner}", expected, txt.describe())
    for tags in records:
        if tags.get("v", "DKIM1") != "DKIM1":
            continue
        if not tags["p"]:
            return failed(f"the DKIM key at {owner} is revoked (empty p=)", expected, "p=")
        try:
            published = _published_der(tags)
        except ValueError as exc:
            return failed(f"the DKIM record at {owner} does not hold a key: {exc}", expected,
                          f"p={tags['p'][:24]}…")
        if published == mine:
            return passed(f"the DKIM record at {owner} holds the public key of "
                          f"MAIL_DKIM_PRIVATE_KEY", expected, f"k={tags.get('k', 'rsa')}")
    shown = ", ".join(f"k={t.get('k', 'rsa')} p={t['p'][:24]}…" for t in records)
    return failed(f"the DKIM record at {owner} holds another key than MAIL_DKIM_PRIVATE_KEY's",
                  expected, shown)


def _public_der(pem: str) -> bytes:
    text = pem.replace("\\n", "\n") if "\n" not in pem.strip() else pem
    try:
        key = serialization.load_pem_private_key(text.strip().encode() + b"\n", None)
    except (ValueError, TypeError) as exc:  # TypeError: encrypted, no password
        raise ValueError(type(exc).__name__) from None  # never echo key material
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def _published_der(tags: Mapping[str, str]) -> bytes:
    try:
        raw = base64.b64decode(tags["p"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("p= is not base64") from exc
    if tags.get("k", "rsa") == "ed25519":  # RFC 8463: the raw 32-byte key
        return raw
    try:
        key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError("p= is not a SubjectPublicKeyInfo") from exc
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


__all__ = ["all_resolve_to", "dkim_matches", "dkim_tags", "mx_present", "name_and_back",
           "resolves_to", "spf_present", "spf_records"]
