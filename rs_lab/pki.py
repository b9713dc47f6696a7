"""The lab's certificate authority: root → intermediate → leaf, made with ``cryptography``.

>>> pki = Pki.create(Path("/tmp/lab/pki"))
>>> leaf = pki.issue("lb", ["*.rs.lab", "rs.lab"])
>>> leaf.cert_path, leaf.key_path, leaf.chain_path   # chain = leaf + intermediate
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rs-preflight lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


@dataclass(frozen=True)
class Issued:
    """A leaf certificate on disk: its PEM, its key, leaf+intermediate, and all-in-one."""

    cert_path: Path
    key_path: Path
    chain_path: Path     # leaf + intermediate (what a server should send)
    combined_path: Path  # leaf + intermediate + key (HAProxy's ``crt``)
    cert: x509.Certificate


@dataclass
class Pki:
    """A root CA and one intermediate; ``issue`` signs leaves with the intermediate."""

    folder: Path
    root_key: PrivateKey
    root: x509.Certificate
    inter_key: PrivateKey
    inter: x509.Certificate

    @property
    def root_path(self) -> Path:
        return self.folder / "root.pem"

    @property
    def inter_path(self) -> Path:
        return self.folder / "intermediate.pem"

    @classmethod
    def create(cls, folder: Path) -> Pki:
        folder.mkdir(parents=True, exist_ok=True)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = _ca_cert(_name("rs-preflight lab root"), root_key, _name("rs-preflight lab root"),
                        root_key, path_length=1)
        inter_key = ec.generate_private_key(ec.SECP256R1())
        inter = _ca_cert(_name("rs-preflight lab intermediate"), inter_key, root.subject,
                         root_key, path_length=0)
        pki = cls(folder, root_key, root, inter_key, inter)
        pki.root_path.write_bytes(_pem(root))
        pki.inter_path.write_bytes(_pem(inter))
        return pki

    def issue(self, stem: str, names: Sequence[str], *, days: int = 365,
              not_before: dt.datetime | None = None, key_type: str = "ec256",
              hash_alg: hashes.HashAlgorithm | None = None,
              self_signed: bool = False) -> Issued:
        """Sign a server certificate for ``names`` (first name is the CN); write it as files.

        ``days``/``not_before`` make expired or not-yet-valid leaves; ``key_type`` is
        ``ec256``, ``rsa2048`` or ``rsa1024``; ``hash_alg`` e.g. ``hashes.SHA1()``.
        """
        key = _new_key(key_type)
        start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        issuer_name, issuer_key = ((_name(names[0]), key) if self_signed
                                   else (self.inter.subject, self.inter_key))
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(names[0])).issuer_name(issuer_name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
                   .add_extension(_san(names), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False)
                   .add_extension(x509.KeyUsage(True, key_type.startswith("rsa"), False, False,
                                                False, False, False, False, False), True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False))
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.inter_key.public_key()),
                critical=False)
        cert = builder.sign(issuer_key, hash_alg or hashes.SHA256())  # type: ignore[arg-type]
        cert_path = self.folder / f"{stem}.crt"
        key_path = self.folder / f"{stem}.key"
        chain_path = self.folder / f"{stem}.chain.pem"
        combined = self.folder / f"{stem}.combined.pem"
        cert_path.write_bytes(_pem(cert))
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        chain = _pem(cert) + (b"" if self_signed else _pem(self.inter))
        chain_path.write_bytes(chain)
        combined.write_bytes(chain + _pem_key(key))
        combined.chmod(0o600)
        return Issued(cert_path, key_path, chain_path, combined, cert)


def _new_key(key_type: str) -> PrivateKey:
    if key_type == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    bits = {"rsa2048": 2048, "rsa1024": 1024}[key_type]
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _ca_cert(subject: x509.Name, key: PrivateKey, issuer: x509.Name, issuer_key: PrivateKey,
             path_length: int) -> x509.Certificate:
    # CAs predate the leaves they sign, as in real PKIs: an expired leaf (400 → 35 days ago)
    # must have been valid under its issuer once, or its chain can never verify at any time.
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1000)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                         False), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), False)
            .sign(issuer_key, hashes.SHA256()))
