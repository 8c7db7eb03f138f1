"""A test PKI made on the spot (CA, intermediate, signer certificates) and XML-DSig signatures built with it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

DSIG = "http://www.w3.org/2000/09/xmldsig#"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Identity:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nhs"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def make_ca(cn: str, issuer: Identity | None = None) -> Identity:
    """A CA certificate: self-signed (a root) or issued by `issuer` (an intermediate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=365))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ski, critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    return Identity(key, builder.sign(issuer.key if issuer else key, hashes.SHA256()))


def make_signer(
    cn: str,
    issuer: Identity,
    *,
    ec_key: bool = False,
    not_after: datetime | None = None,
    usage: x509.KeyUsage | None = None,
) -> Identity:
    """A smartcard-like signing certificate: no EKU, no SAN, key usage digital signature + non-repudiation."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if ec_key else rsa.generate_private_key(65537, 2048)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(not_after or NOW + timedelta(days=365))
        .add_extension(usage or _usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )
    return Identity(key, cert)


def _usage(**on: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")  # fmt: skip
    return x509.KeyUsage(**{name: on.get(name, False) for name in names})


SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def signature_xml(
    signer: Identity,
    *,
    method: str = RSA_SHA1,
    extra_certs: tuple[x509.Certificate, ...] = (),
    signed: bytes | None = None,
) -> bytes:
    """An EPS-shaped `<Signature>` by `signer` over a SignedInfo with one Reference, certificates in KeyInfo.

    The Reference digests `signed` (the fragments EPS's $prepare gives), SHA-1 or SHA-256 as `method`; without
    it, a fixed digest of nothing in particular.
    """
    digest_method = SHA1 if method == RSA_SHA1 else SHA256
    digest_value = "z1DfIbBMWHWxOkvO2Aujzq6RmYM="
    if signed is not None:
        hashed = hashes.Hash(hashes.SHA1() if method == RSA_SHA1 else hashes.SHA256())  # noqa: S303  # EPS's SHA-1
        hashed.update(signed)
        digest_value = base64.b64encode(hashed.finalize()).decode()
    elif method != RSA_SHA1:
        digest_method = SHA1
    signed_info = (
        f'<SignedInfo xmlns="{DSIG}"><CanonicalizationMethod Algorithm="{EXC_C14N}"></CanonicalizationMethod>'
        f'<SignatureMethod Algorithm="{method}"></SignatureMethod><Reference><Transforms>'
        f'<Transform Algorithm="{EXC_C14N}"></Transform></Transforms>'
        f'<DigestMethod Algorithm="{digest_method}"></DigestMethod>'
        f"<DigestValue>{digest_value}</DigestValue></Reference></SignedInfo>"
    )
    canonical = etree.tostring(etree.fromstring(signed_info.encode()), method="c14n", exclusive=True)
    digest = hashes.SHA1() if method == RSA_SHA1 else hashes.SHA256()  # noqa: S303  # what EPS signs with
    key = signer.key
    if isinstance(key, rsa.RSAPrivateKey):
        value = key.sign(canonical, padding.PKCS1v15(), digest)
    else:
        value = key.sign(canonical, ec.ECDSA(digest))
    certs = "".join(
        f"<X509Certificate>{base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}</X509Certificate>"
        for c in (signer.cert, *extra_certs)
    )
    inner = signed_info.replace(f' xmlns="{DSIG}"', "")
    value_b64 = base64.b64encode(value).decode()
    return (
        f'<Signature xmlns="{DSIG}">\n  {inner}\n  <SignatureValue>{value_b64}</SignatureValue>\n'
        f"  <KeyInfo><X509Data>{certs}</X509Data></KeyInfo>\n</Signature>"
    ).encode()


def provenance(xml: bytes | str) -> dict[str, Any]:
    """An EPS-shaped Provenance whose signature data is `xml`."""
    data = xml.encode() if isinstance(xml, str) else xml
    return {
        "resourceType": "Provenance",
        "id": "28828c55-8fa7-42d7-916f-fcf076e0c10e",
        "target": [{"reference": "urn:uuid:a54219b8-f741-4c47-b662-e4f8dfa49ab6"}],
        "recorded": "2026-11-22T09:00:00+00:00",
        "agent": [{"who": {"reference": "urn:uuid:56166769-c1c4-4d07-afa8-132b5dfca666"}}],
        "signature": [
            {
                "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}],
                "when": "2026-11-22T09:00:00+00:00",
                "who": {"reference": "urn:uuid:56166769-c1c4-4d07-afa8-132b5dfca666"},
                "data": base64.b64encode(data).decode(),
            }
        ],
    }
