"""RS-TLS-*: the certificate and protocol the load balancer serves for each name. Pure.

Path validation and name matching are ``cryptography.x509.verification``'s (the CABF web-PKI
profile, RFC 6125 name matching: a wildcard covers exactly one label and never the apex; no
CN fallback) — nothing here builds paths or matches names by hand. The checks are kept apart
so that one fault fails one requirement:

* RS-TLS-01 (names): the leaf's subjectAltName, copied onto a throwaway certificate under a
  throwaway root, is verified for the name — the chain and dates cannot interfere.
* RS-TLS-02 (chain): the leaf with the intermediates *as sent* is verified to the trust store,
  for a name the leaf claims, at a moment inside the leaf's validity (dates are RS-TLS-03's).
* RS-TLS-03 (dates), RS-TLS-04 (protocol, key, signature) read the certificates directly.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from rs_preflight.spec.results import FAILED, PASSED, Verdict, failed, passed

TLS_ORDER = {"SSLv3": 0, "TLSv1": 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4}
WEAK_HASHES = ("md5", "sha1")


def subject_for(name: str) -> x509.verification.Subject:
    """``DNSName`` or ``IPAddress`` for a peer name, as the verifier wants it."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name.lower().rstrip("."))


def verify_server(leaf: x509.Certificate, intermediates: Sequence[x509.Certificate],
                  trusted: Sequence[x509.Certificate], name: str, at: dt.datetime,
                  max_chain_depth: int | None = None) -> str | None:
    """Full server verification (chain, name, dates, profile); None if it verifies, else why.

    This is the verdict function the x509-limbo agreement test drives.
    """
    builder = PolicyBuilder().store(Store(list(trusted))).time(at)
    if max_chain_depth is not None:
        builder = builder.max_chain_depth(max_chain_depth)
    try:
        verifier = builder.build_server_verifier(subject_for(name))
    except ValueError as exc:  # e.g. an underscore: not a DNS name the verifier accepts
        return f"{name!r} is not a valid peer name: {exc}"
    try:
        verifier.verify(leaf, list(intermediates))
    except VerificationError as exc:
        return str(exc)
    return None


# -- RS-TLS-01 -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Throwaway:
    key: ec.EllipticCurvePrivateKey
    root: x509.Certificate


@functools.cache
def _throwaway() -> _Throwaway:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rs-preflight name matcher")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    root = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return _Throwaway(key, root)


def san_names(leaf: x509.Certificate) -> list[str]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):  # ValueError: a malformed extension
        return []
    return [*san.get_values_for_type(x509.DNSName),
            *(str(a) for a in san.get_values_for_type(x509.IPAddress))]


def name_mismatch(leaf: x509.Certificate, name: str) -> str | None:
    """Whether ``leaf``'s subjectAltName covers ``name`` (RFC 6125 via ``cryptography``).

    None if it does, else why. The SAN extension is copied onto a throwaway leaf under a
    throwaway root and verified there, so only the names decide.
    """
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return "the certificate has no subjectAltName (the CN is not used for names)"
    except ValueError as exc:
        return f"the certificate's subjectAltName cannot be read: {exc}"
    t = _throwaway()
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    probe = (x509.CertificateBuilder().subject_name(x509.Name([]))
             .issuer_name(t.root.subject).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(hours=1))
             .not_valid_after(now + dt.timedelta(days=1))
             .add_extension(san.value, critical=True)  # empty subject: SAN must be critical
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 t.key.public_key()), critical=False)
             .sign(t.key, hashes.SHA256()))
    reason = verify_server(probe, [], [t.root], name, now)
    if reason is None:
        return None
    return f"not covered by the certificate's names {', '.join(san_names(leaf)) or '(none)'}"


def names_verdict(name: str, leaf: x509.Certificate) -> Verdict:
    """RS-TLS-01 for one name."""
    expected = f"a certificate valid for {name} (RFC 6125: one label per wildcard, no apex)"
    found = ", ".join(san_names(leaf)) or "no subjectAltName"
    why = name_mismatch(leaf, name)
    if why is None:
        return passed("the certificate covers the name", expected, found)
    return failed(f"the certificate is not valid for the name: {why}", expected, found)


# -- RS-TLS-02 -----------------------------------------------------------------------------------

def _claimed_name(leaf: x509.Certificate, fallback: str) -> str:
    names = san_names(leaf)
    if not names:
        return fallback
    first = names[0]
    return "rs-preflight-chain" + first[1:] if first.startswith("*.") else first


def _inside(leaf: x509.Certificate, now: dt.datetime) -> dt.datetime:
    """``now``, moved inside the leaf's validity if it lies outside (dates are RS-TLS-03's)."""
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if now < start:
        return start + dt.timedelta(seconds=1)
    if now > end:
        return end - dt.timedelta(seconds=1)
    return now


def chain_verdict(name: str, chain: Sequence[x509.Certificate],
                  trusted: Sequence[x509.Certificate], now: dt.datetime, store_name: str
                  ) -> Verdict:
    """RS-TLS-02: the leaf verifies to ``trusted`` with only the intermediates that were sent."""
    leaf, sent = chain[0], list(chain[1:])
    shown = " ← ".join(_cn(c) for c in chain)
    expected = f"leaf + intermediates as sent verify to {store_name}"
    why = verify_server(leaf, sent, trusted, _claimed_name(leaf, name), _inside(leaf, now))
    if why is None:
        return passed(f"the chain verifies to {store_name}", expected, shown)
    hint = (" — the server sends no intermediate; configure the full chain"
            if not sent and leaf.issuer != leaf.subject else "")
    return failed(f"the chain does not verify: {why}{hint}", expected,
                  f"{len(chain)} certificate(s) sent: {shown}")


def _cn(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else cert.subject.rfc4514_string() or "(empty subject)"


# -- RS-TLS-03 -----------------------------------------------------------------------------------

def dates_verdict(chain: Sequence[x509.Certificate], now: dt.datetime, warn_days: int
                  ) -> Verdict:
    """RS-TLS-03: every certificate sent is valid now; the leaf not within ``warn_days`` of its
    end (a *warning*: the verdict carries ``severity="warning"``)."""
    for cert in chain:
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        span = f"{_cn(cert)}: valid {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"
        if now > end:
            return failed(f"{_cn(cert)} expired on {end:%Y-%m-%d}", "valid now", span)
        if now < start:
            return failed(f"{_cn(cert)} is not valid yet (from {start:%Y-%m-%d %H:%M} UTC)",
                          "valid now", span)
    leaf = chain[0]
    end = leaf.not_valid_after_utc
    left = (end - now).days
    expected = f"valid now and for more than {warn_days} days"
    found = f"expires {end:%Y-%m-%d} ({left} days left)"
    if end - now <= dt.timedelta(days=warn_days):
        return Verdict(FAILED, f"the certificate expires in {left} days, within {warn_days} "
                               f"(a warning: renew it)", expected, found, "warning")
    return passed(f"valid until {end:%Y-%m-%d} ({left} days)", expected, found)


# -- RS-TLS-04 -----------------------------------------------------------------------------------

def key_description(cert: x509.Certificate) -> tuple[str, int | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return type(key).__name__.removesuffix("PublicKey"), None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def strength_verdict(version: str, chain: Sequence[x509.Certificate],
                     thresholds: Mapping[str, object]) -> Verdict:
    """RS-TLS-04: TLS >= min_tls negotiated; leaf RSA >= min_rsa_bits or EC >= min_ec_bits;
    no SHA-1/MD5 signature on the leaf or a sent intermediate."""
    min_tls = str(thresholds.get("min_tls", "TLSv1.2"))
    min_rsa = int(str(thresholds.get("min_rsa_bits", 2048)))
    min_ec = int(str(thresholds.get("min_ec_bits", 256)))
    kind, bits = key_description(chain[0])
    hashes_seen = [(_cn(c), _hash_name(c)) for c in chain if c.issuer != c.subject]
    found = (f"{version}, leaf {kind}{f' {bits}' if bits else ''}, signatures "
             f"{', '.join(h for _, h in hashes_seen) or '-'}")
    expected = f">= {min_tls}; RSA >= {min_rsa} or EC >= {min_ec} bits; SHA-2 signatures"
    problems = []
    if TLS_ORDER.get(version, -1) < TLS_ORDER[min_tls]:
        problems.append(f"{version} negotiated (below {min_tls})")
    if (kind == "RSA" and (bits or 0) < min_rsa) or (kind == "EC" and (bits or 0) < min_ec) \
            or kind == "DSA":
        problems.append(f"{kind} {bits}-bit key")
    problems += [f"{cn} is signed with {h.upper()}" for cn, h in hashes_seen
                 if h in WEAK_HASHES]
    if problems:
        return failed("too weak: " + "; ".join(problems), expected, found)
    return passed("protocol, key and signatures are strong enough", expected, found)


def _hash_name(cert: x509.Certificate) -> str:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # an algorithm cryptography cannot name: say so, don't crash
        return "unknown"
    return algorithm.name if algorithm else "none (EdDSA)"


# -- RS-TLS-05 -----------------------------------------------------------------------------------

def redirect_verdict(url: str, status: int, location: str, host: str) -> Verdict:
    """RS-TLS-05: ``http://<domain>/`` answers a redirect to ``https://<domain>``."""
    expected = f"301/302/307/308 to https://{host}/…"
    found = f"{status}" + (f" Location: {location}" if location else "")
    if status in (301, 302, 303, 307, 308) and location.lower().startswith(f"https://{host}"):
        return passed(f"{url} redirects to {location}", expected, found)
    if status in (301, 302, 303, 307, 308):
        return failed(f"{url} redirects, but not to https://{host}", expected, found,
                      "warning")
    return failed(f"{url} does not redirect to https (it answers {status})", expected, found,
                  "warning")


# -- combining -----------------------------------------------------------------------------------

def summarize(what: str, verdicts: Sequence[tuple[str, Verdict]]) -> Verdict:
    """One verdict from one per target (``name @ address``); equal messages are grouped.

    Errors win over failures, failures over passes; the heaviest severity wins.
    """
    if not verdicts:
        return Verdict("skipped", f"{what}: nothing to check")
    for outcome in ("error", FAILED, PASSED):
        hits = [(t, v) for t, v in verdicts if v.outcome == outcome]
        if not hits:
            continue
        groups: dict[str, list[tuple[str, Verdict]]] = {}
        for target, v in hits:
            groups.setdefault(v.message, []).append((target, v))
        if outcome == PASSED:
            only = len(groups) == 1
            msg = (f"{what}: {next(iter(groups))}" if only else what) + \
                f" ({len(hits)} checked: {_targets([t for t, _ in hits])})"
            return passed(msg, hits[0][1].expected, hits[0][1].found)
        parts = [f"{message} ({_targets([t for t, _ in group])})"
                 for message, group in groups.items()]
        sev = {v.severity for _, v in hits}
        return Verdict(outcome, f"{what}: " + "; ".join(parts),
                       "; ".join(dict.fromkeys(v.expected for _, v in hits if v.expected)),
                       "; ".join(dict.fromkeys(f"{t}: {v.found}" for t, v in hits
                                               if v.found)),
                       None if None in sev else ("blocker" if "blocker" in sev else
                                                 sev.pop()))
    return verdicts[0][1]


def _targets(targets: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(targets[:limit])
    return shown + (f" and {len(targets) - limit} more" if len(targets) > limit else "")


__all__ = ["chain_verdict", "dates_verdict", "key_description", "name_mismatch",
           "names_verdict", "redirect_verdict", "san_names", "strength_verdict",
           "subject_for", "summarize", "verify_server"]
