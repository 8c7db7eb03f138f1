"""What EPS signs, rebuilt from the bundle: every shared $prepare pair, and signatures that belong to another order."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.signing.eps import EpsSignatureStatus, inspect_eps_signature
from gateway.signing.exceptions import FragmentError
from gateway.signing.fragments import fragments_to_be_hashed
from tests.paths import EPS_EXAMPLES
from tests.unit.signing.support import NOW, RSA_SHA1, RSA_SHA256, make_ca, make_signer, provenance, signature_xml

PREPARE_PAIRS = sorted(EPS_EXAMPLES.rglob("*Prepare-Response-200_OK.json"))
ACUTE = EPS_EXAMPLES / "secondary-care/community/acute/nominated-pharmacy"
ORDER_A = ACUTE / "clinical-practitioner/1-Prepare-Request-200_OK.json"
ORDER_B = ACUTE / "paramedic/1-Prepare-Request-200_OK.json"
SIGNED_AT = "2026-11-22T09:00:00+00:00"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    return loaded


def _prepared(response: Path) -> tuple[str, str]:
    """(the SignedInfo EPS answered, its timestamp) from a Prepare-Response."""
    params = {p["name"]: p["valueString"] for p in _load(response)["parameter"]}
    return base64.b64decode(params["digest"]).decode(), params["timestamp"]


def test_the_corpus_has_prepare_pairs() -> None:
    assert len(PREPARE_PAIRS) >= 32  # secondary care acute and repeat dispensing, primary care


@pytest.mark.parametrize("response", PREPARE_PAIRS, ids=lambda p: str(p.relative_to(EPS_EXAMPLES)))
def test_fragments_digest_to_what_eps_prepare_answered(response: Path) -> None:
    signed_info, timestamp = _prepared(response)
    request = _load(response.with_name(response.name.replace("Prepare-Response", "Prepare-Request")))
    fragments = fragments_to_be_hashed(request, author_time=timestamp)
    digest = base64.b64encode(hashlib.sha256(fragments).digest()).decode()
    assert 'DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"' in signed_info
    assert re.findall(r"<DigestValue>(.*?)</DigestValue>", signed_info) == [digest]


def test_the_fragments_are_what_eps_describes() -> None:
    xml = fragments_to_be_hashed(_load(ORDER_A), author_time="2024-12-09T11:50:04+00:00").decode()
    assert xml.startswith('<FragmentsToBeHashed><Fragment><time xmlns="urn:hl7-org:v3" value="20241209115004">')
    assert xml.count("<Fragment>") == 4  # time+id, AgentPerson, recordTarget, one line item
    assert '<id xmlns="urn:hl7-org:v3" root="7E27431E-367C-4BEE-B9D7-78619E4B7D2D"></id>' in xml
    assert '<telecom use="WP" value="tel:01234567890"></telecom>' in xml
    assert '<id extension="9449304122" root="2.16.840.1.113883.2.1.4.1"></id>' in xml


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    root = make_ca("Test Root CA")
    return {"root": root, "signer": make_signer("555086689106_TEST_PRESCRIBER", root)}


def _signed(bundle: dict[str, Any], signer: Any, method: str = RSA_SHA1) -> dict[str, Any]:
    """`bundle` with a prescriber's Provenance signing what EPS's $prepare gives for it, at SIGNED_AT."""
    fragments = fragments_to_be_hashed(bundle, author_time=SIGNED_AT)
    prov = _provenance_for(bundle, signature_xml(signer, method=method, signed=fragments))
    return {**bundle, "entry": [*bundle["entry"], {"fullUrl": f"urn:uuid:{prov['id']}", "resource": prov}]}


def _provenance_for(bundle: dict[str, Any], xml: bytes) -> dict[str, Any]:
    prov = provenance(xml)
    requester = next(e["resource"]["requester"] for e in bundle["entry"] if e["resource"]["resourceType"] == (
        "MedicationRequest"))  # fmt: skip
    prov["agent"][0]["who"] = dict(requester)
    prov["signature"][0] |= {"who": dict(requester), "when": SIGNED_AT}
    return prov


def _verdict(bundle: dict[str, Any], *anchors: Any) -> tuple[EpsSignatureStatus, str]:
    prov = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance")
    verdict = inspect_eps_signature(prov, list(anchors), now=NOW, bundle=bundle)
    return verdict.status, verdict.detail


@pytest.mark.parametrize("method", [RSA_SHA1, RSA_SHA256])
def test_a_signature_over_this_prescription_is_verified(pki: dict[str, Any], method: str) -> None:
    status, detail = _verdict(_signed(_load(ORDER_A), pki["signer"], method), pki["root"].cert)
    assert status is EpsSignatureStatus.VERIFIED, detail
    assert detail.endswith("digest matches the prescription")


def test_a_signature_lifted_from_another_prescription_is_refused(pki: dict[str, Any]) -> None:
    a, b = _signed(_load(ORDER_A), pki["signer"]), _load(ORDER_B)
    lifted = _provenance_for(b, base64.b64decode(a["entry"][-1]["resource"]["signature"][0]["data"]))
    b["entry"].append({"fullUrl": f"urn:uuid:{lifted['id']}", "resource": lifted})
    # The SignatureValue still verifies over its SignedInfo, by a trusted certificate: only the digest tells.
    status, detail = _verdict(b, pki["root"].cert)
    assert status is EpsSignatureStatus.INVALID
    assert "not this prescription's" in detail


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: r["Patient"]["identifier"][0].update(value="9449305552"), id="patient"),
        pytest.param(lambda r: r["MedicationRequest"]["dispenseRequest"]["quantity"].update(value=2), id="quantity"),
        pytest.param(lambda r: r["MedicationRequest"]["dosageInstruction"][0].update(text="Twice daily"), id="dose"),
        pytest.param(lambda r: r["PractitionerRole"]["telecom"][0].update(value="0111"), id="prescriber-telecom"),
        pytest.param(lambda r: r["Organization"].update(name="ELSEWHERE"), id="organisation"),
    ],
)
def test_a_signed_prescription_changed_afterwards_is_refused(pki: dict[str, Any], change: Any) -> None:
    signed = _signed(_load(ORDER_A), pki["signer"])
    changed = copy.deepcopy(signed)
    change({e["resource"]["resourceType"]: e["resource"] for e in changed["entry"]})
    assert _verdict(signed, pki["root"].cert)[0] is EpsSignatureStatus.VERIFIED
    assert _verdict(changed, pki["root"].cert)[0] is EpsSignatureStatus.INVALID


def test_what_eps_does_not_sign_may_change(pki: dict[str, Any]) -> None:
    signed = _signed(_load(ORDER_A), pki["signer"])
    signed["identifier"] = {"system": "https://tools.ietf.org/html/rfc4122", "value": "another message id"}
    request = next(e["resource"] for e in signed["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    request["substitution"] = {"allowedBoolean": True}  # not in the HL7 v3 line item
    assert _verdict(signed, pki["root"].cert)[0] is EpsSignatureStatus.VERIFIED


def test_an_order_eps_cannot_translate_is_refused_with_the_reason(pki: dict[str, Any]) -> None:
    signed = _signed(_load(ORDER_A), pki["signer"])
    practitioner = next(e["resource"] for e in signed["entry"] if e["resource"]["resourceType"] == "Practitioner")
    practitioner["identifier"] = practitioner["identifier"][:1]  # the SDS user id only: no professional code
    status, detail = _verdict(signed, pki["root"].cert)
    assert status is EpsSignatureStatus.INVALID
    assert "cannot be rebuilt" in detail and "Practitioner.identifier" in detail


def test_cancellations_are_not_digest_checked(pki: dict[str, Any]) -> None:
    signed = _signed(_load(ORDER_A), pki["signer"])
    signed["entry"][0]["resource"]["eventCoding"]["code"] = "prescription-order-update"
    status, detail = _verdict(signed, pki["root"].cert)
    assert status is EpsSignatureStatus.VERIFIED and "digest not checked" in detail


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        pytest.param(lambda b: b["entry"].clear(), "Bundle.entry", id="no-entries"),
        pytest.param(lambda b: b["entry"][2]["resource"].update(gender="unknown-ish"), "Patient.gender", id="gender"),
        pytest.param(lambda b: b["entry"][1]["resource"]["requester"].update(reference="urn:x"),
                     "MedicationRequest.requester", id="dangling-requester"),  # fmt: skip
    ],
)
def test_what_cannot_be_rebuilt_is_located(mutate: Any, path: str) -> None:
    bundle = _load(ORDER_A)
    mutate(bundle)
    with pytest.raises(FragmentError) as caught:
        fragments_to_be_hashed(bundle, author_time=SIGNED_AT)
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("dosages", "text"),
    [
        pytest.param([{"text": "a", "sequence": 1}, {"text": "b", "sequence": 1}, {"text": "c", "sequence": 2}],
                     "a, and b, then c", id="concurrent-then-consecutive"),  # fmt: skip
        pytest.param([{"text": "a", "sequence": 1}, {"text": "c", "sequence": 3}], "a, then , then c", id="gap"),
    ],
)
def test_several_dosages_read_as_eps_writes_them(dosages: list[dict[str, Any]], text: str) -> None:
    bundle = _load(ORDER_A)
    request = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    request["dosageInstruction"] = dosages
    xml = fragments_to_be_hashed(bundle, author_time=SIGNED_AT).decode()
    assert f'<code code="DI" codeSystem="2.16.840.1.113883.2.1.3.2.4.17.30"></code><value>{text}</value>' in xml
    request["dosageInstruction"] = [{"text": "a"}, {"text": "b"}]  # EPS needs sequences to order several
    with pytest.raises(FragmentError, match="sequencing"):
        fragments_to_be_hashed(bundle, author_time=SIGNED_AT)
