"""Verdicts on inbound EPS Provenance signatures: the public examples, and a test PKI made here."""

from __future__ import annotations

import base64
import copy
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.signing.eps import EpsSignatureStatus, inspect_eps_signature
from gateway.signing.exceptions import SigningKeyError
from gateway.signing.trust_anchors import load_trust_anchors
from tests.paths import EPS_EXAMPLES
from tests.unit.signing.support import NOW, RSA_SHA1, RSA_SHA256, make_ca, make_signer, provenance, signature_xml

VERIFIED, UNTRUSTED, INVALID = EpsSignatureStatus.VERIFIED, EpsSignatureStatus.UNTRUSTED, EpsSignatureStatus.INVALID
UNSIGNED, MALFORMED = EpsSignatureStatus.UNSIGNED, EpsSignatureStatus.MALFORMED


def _provenances(value: Any, bundle: dict[str, Any] | None = None) -> list[tuple[dict[str, Any], Any]]:
    """Every Provenance in `value`, with the Bundle it is an entry of (bundles nest in release responses)."""
    if isinstance(value, dict):
        if value.get("resourceType") == "Bundle":
            bundle = value
        found = [(value, bundle)] if value.get("resourceType") == "Provenance" else []
        return found + [p for v in value.values() for p in _provenances(v, bundle)]
    if isinstance(value, list):
        return [p for v in value for p in _provenances(v, bundle)]
    return []


EXAMPLES = [
    pytest.param(p, b, id=f"{path.relative_to(EPS_EXAMPLES)}#{i}")
    for path in sorted(EPS_EXAMPLES.rglob("*.json"))
    for i, (p, b) in enumerate(_provenances(json.loads(path.read_text(encoding="utf-8"))))
]


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    root = make_ca("Test Root CA")
    intermediate = make_ca("Test Level 1D", issuer=root)
    return {
        "root": root,
        "intermediate": intermediate,
        "other_root": make_ca("Other Root CA"),
        "signer": make_signer("555253521108_TEST_USER", root),
        "deep_signer": make_signer("555253517102_TEST_USER", intermediate),
    }


def inspect(prov: dict[str, Any], *anchors: x509.Certificate) -> EpsSignatureStatus:
    """The verdict on a Provenance on its own: no message, so no digest to compare."""
    return inspect_eps_signature(prov, list(anchors), now=NOW, bundle=None).status


def _data_xml(prov: dict[str, Any]) -> str:
    return base64.b64decode(prov["signature"][0]["data"]).decode()


def _with_xml(prov: dict[str, Any], xml: str) -> dict[str, Any]:
    out = copy.deepcopy(prov)
    out["signature"][0]["data"] = base64.b64encode(xml.encode()).decode()
    return out


@pytest.mark.parametrize(("prov", "bundle"), EXAMPLES)
def test_every_eps_example_gets_a_verdict(prov: dict[str, Any], bundle: dict[str, Any] | None) -> None:
    verdict = inspect_eps_signature(prov, [], now=NOW, bundle=bundle)
    assert verdict.status in set(EpsSignatureStatus)
    assert verdict.status is not VERIFIED  # nothing chains without anchors


def test_eps_example_verdicts() -> None:
    verdicts = Counter(
        (v.status, v.detail.rsplit("; ", 1)[-1].split(" (")[0])
        for p in EXAMPLES
        if (v := inspect_eps_signature(p.values[0], [], now=NOW, bundle=p.values[1]))
    )
    # Empty SignatureValue and X509Certificate: EPS's unsigned placeholders. The real NHS test signatures verify over
    # SignedInfo, but EPS's examples reuse a few of them across prescriptions: not one digests the fragments of the
    # order it travels in, so on a prescription-order each is invalid, as EPS's verification finds it ("Signature
    # doesn't match prescription"), as are the released ones sent to $verify-signature. Two orders cannot even be
    # translated as EPS does (mixed course of therapy; a practitioner with no professional code): both are 400s.
    # On cancellations the digest is not EPS's to check, and the signature stays untrusted. One example (spec release
    # acute-primary) carries text after the base64 padding of its SignatureValue: malformed, not decoded leniently.
    assert verdicts == {
        (UNSIGNED, "empty SignatureValue"): 12,
        (INVALID, "the signed digest is not this prescription's"): 43,
        (INVALID, "the signed fragments cannot be rebuilt from this message as EPS does"): 2,
        (UNTRUSTED, "digest not checked: EPS signs prescription-order messages only"): 8,
        (MALFORMED, "SignatureValue: not base64"): 1,
    }


def test_real_eps_signature_changed_is_invalid() -> None:
    path = EPS_EXAMPLES / "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner/multiple-drugs"
    [(prov, _)] = _provenances(json.loads((path / "1-Process-Request-Send-200_OK.json").read_text()))
    assert inspect(prov) is UNTRUSTED
    xml = _data_xml(prov)
    digest = xml.split("<DigestValue>")[1].split("</DigestValue>")[0]
    assert inspect(_with_xml(prov, xml.replace(digest, "A" + digest[1:]))) is INVALID


def test_unsigned_example_keeps_its_reason() -> None:
    path = EPS_EXAMPLES / "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner"
    [(prov, bundle)] = _provenances(json.loads((path / "1-Process-Request-Send-200_OK.json").read_text()))
    before = copy.deepcopy(prov)
    verdict = inspect_eps_signature(prov, [], now=NOW, bundle=bundle)
    assert verdict.status is UNSIGNED and verdict.detail == "empty SignatureValue"
    assert prov == before  # preserved untouched


@pytest.mark.parametrize("method", [RSA_SHA1, RSA_SHA256])
def test_signer_chaining_to_an_anchor_is_verified(pki: dict[str, Any], method: str) -> None:
    prov = provenance(signature_xml(pki["signer"], method=method))
    verdict = inspect_eps_signature(prov, [pki["root"].cert], now=NOW, bundle=None)
    assert verdict.status is VERIFIED, verdict.detail
    assert verdict.signer == "CN=555253521108_TEST_USER,O=nhs" and verdict.issuer == "CN=Test Root CA,O=nhs"
    assert verdict.signature_method == method
    assert verdict.as_dict()["status"] == "verified"


def test_another_ca_as_anchor_is_untrusted(pki: dict[str, Any]) -> None:
    prov = provenance(signature_xml(pki["signer"]))
    assert inspect(prov, pki["other_root"].cert) is UNTRUSTED
    assert inspect(prov) is UNTRUSTED


def test_intermediate_in_keyinfo_completes_the_chain(pki: dict[str, Any]) -> None:
    with_intermediate = provenance(signature_xml(pki["deep_signer"], extra_certs=(pki["intermediate"].cert,)))
    without = provenance(signature_xml(pki["deep_signer"]))
    assert inspect(with_intermediate, pki["root"].cert) is VERIFIED
    assert inspect(without, pki["root"].cert) is UNTRUSTED
    assert inspect(without, pki["intermediate"].cert) is VERIFIED  # an intermediate may be the configured anchor


def test_tampered_signature_value_is_invalid(pki: dict[str, Any]) -> None:
    xml = signature_xml(pki["signer"]).decode()
    value = xml.split("<SignatureValue>")[1].split("</SignatureValue>")[0]
    raw = bytearray(base64.b64decode(value))
    raw[-1] ^= 0x01
    tampered = xml.replace(value, base64.b64encode(bytes(raw)).decode())
    assert inspect(provenance(tampered), pki["root"].cert) is INVALID


def test_tampered_signed_info_is_invalid_even_from_an_untrusted_signer(pki: dict[str, Any]) -> None:
    xml = signature_xml(pki["signer"]).decode().replace("z1DfIbBMWHWxOkvO2Aujzq6RmYM=", "AAAAIbBMWHWxOkvO2Aujzq6RmYM=")
    assert inspect(provenance(xml), pki["root"].cert) is INVALID
    assert inspect(provenance(xml)) is INVALID


def test_whitespace_outside_signed_info_does_not_matter(pki: dict[str, Any]) -> None:
    xml = signature_xml(pki["signer"]).decode().replace("\n  <KeyInfo>", "\n\n      <KeyInfo>")
    assert inspect(provenance(xml), pki["root"].cert) is VERIFIED


def test_expired_signer_is_untrusted(pki: dict[str, Any]) -> None:
    expired = make_signer("EXPIRED", pki["root"], not_after=NOW - timedelta(days=1))
    assert inspect(provenance(signature_xml(expired)), pki["root"].cert) is UNTRUSTED


def test_signer_whose_key_usage_forbids_signing_is_untrusted(pki: dict[str, Any]) -> None:
    encipher_only = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
    signer = make_signer("ENCIPHER", pki["root"], usage=encipher_only)
    assert inspect(provenance(signature_xml(signer)), pki["root"].cert) is UNTRUSTED


def test_ec_certificate_with_an_rsa_method_is_invalid(pki: dict[str, Any]) -> None:
    ec_signer = make_signer("EC", pki["root"], ec_key=True)
    assert inspect(provenance(signature_xml(ec_signer, method=RSA_SHA256)), pki["root"].cert) is INVALID


@pytest.mark.parametrize(
    ("xml", "why"),
    [
        pytest.param('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Signature/>', "DTD", id="xxe"),
        pytest.param('<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>', "DTD", id="laughs"),
        pytest.param("<Signature", "well-formed", id="not-xml"),
        pytest.param('<Other xmlns="http://www.w3.org/2000/09/xmldsig#"/>', "root element", id="wrong-root"),
        pytest.param('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>', "SignedInfo", id="no-signed-info"),
    ],
)
def test_malformed_xml(xml: str, why: str) -> None:
    verdict = inspect_eps_signature(provenance(xml), [], now=NOW, bundle=None)
    assert verdict.status is MALFORMED and why in verdict.detail


def test_unsupported_algorithms_are_malformed(pki: dict[str, Any]) -> None:
    xml = signature_xml(pki["signer"]).decode()
    ecdsa = xml.replace(RSA_SHA1, "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256")
    c14n11 = xml.replace('CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"',
                         'CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n11"')  # fmt: skip
    assert inspect(provenance(ecdsa)) is MALFORMED
    assert inspect(provenance(c14n11)) is MALFORMED


def test_garbage_certificate_and_value_are_malformed(pki: dict[str, Any]) -> None:
    xml = signature_xml(pki["signer"]).decode()
    cert = xml.split("<X509Certificate>")[1].split("</X509Certificate>")[0]
    assert inspect(provenance(xml.replace(cert, "AAAA"))) is MALFORMED
    value = xml.split("<SignatureValue>")[1].split("</SignatureValue>")[0]
    assert inspect(provenance(xml.replace(value, "%%%"))) is MALFORMED


@pytest.mark.parametrize(
    ("prov", "status"),
    [
        ({"resourceType": "Patient"}, MALFORMED),
        ({"resourceType": "Provenance"}, UNSIGNED),
        ({"resourceType": "Provenance", "signature": []}, UNSIGNED),
        ({"resourceType": "Provenance", "signature": [{"type": []}]}, UNSIGNED),
        ({"resourceType": "Provenance", "signature": "x"}, MALFORMED),
        ({"resourceType": "Provenance", "signature": [{"data": 12}]}, MALFORMED),
        ({"resourceType": "Provenance", "signature": [{"data": "!!not base64"}]}, MALFORMED),
    ],
)
def test_provenance_shapes(prov: dict[str, Any], status: EpsSignatureStatus) -> None:
    assert inspect(prov) is status


def test_no_certificate_is_unsigned(pki: dict[str, Any]) -> None:
    xml = signature_xml(pki["signer"]).decode()
    cert = xml.split("<X509Certificate>")[1].split("</X509Certificate>")[0]
    assert inspect(provenance(xml.replace(cert, ""))) is UNSIGNED


def test_load_trust_anchors(tmp_path: Path, pki: dict[str, Any]) -> None:
    path = tmp_path / "anchors.pem"
    path.write_bytes(pki["root"].cert.public_bytes(Encoding.PEM) + pki["other_root"].cert.public_bytes(Encoding.PEM))
    assert load_trust_anchors(path) == [pki["root"].cert, pki["other_root"].cert]
    path.write_text("not a pem")
    with pytest.raises(SigningKeyError):
        load_trust_anchors(path)


def test_comment_in_signed_info_is_dropped_by_exclusive_c14n(pki: dict[str, Any]) -> None:
    xml = signature_xml(pki["signer"]).decode().replace("<Reference>", "<!-- added in transit --><Reference>")
    assert inspect(provenance(xml), pki["root"].cert) is VERIFIED
    with_comments_method = xml.replace(
        'CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"',
        'CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"',
    )
    assert inspect(provenance(with_comments_method), pki["root"].cert) is INVALID
