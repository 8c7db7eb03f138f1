"""EPRs that speak EPS post prescription-order bundles to $process-message unchanged; providers get them as sent."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from adapters.fhir import parse_bundle
from conformance.parties import provider_messages as msg
from gateway.context import Gateway
from gateway.operations import admin
from gateway.settings import Settings
from gateway.signing.bundle import verify_bundle
from gateway.signing.fragments import fragments_to_be_hashed
from gateway.simulate.parties import party_client, register_party
from gateway.wiring import build_gateway
from tests.conftest import serve
from tests.integration.helpers import error_codes, post_fhir
from tests.paths import EPS_EXAMPLES
from tests.unit.signing.support import make_ca, make_signer, signature_xml

SEND = EPS_EXAMPLES / "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner"
EXAMPLE = SEND / "1-Process-Request-Send-200_OK.json"


async def test_eps_order_goes_to_its_provider_unchanged(gw: Gateway, base_url: str) -> None:
    bundle: dict[str, Any] = json.loads(EXAMPLE.read_text())
    parsed = parse_bundle(bundle).prescription
    assert parsed is not None
    performer = parsed.provider_ods
    assert performer == "FH542"
    await admin.add_provider(gw, ods=performer, name="EPS example dispenser", mode="pull")
    epr = await register_party(gw, "trust", parsed.trust_ods)
    dispenser = await register_party(gw, "provider", performer)
    async with party_client(base_url, epr) as trust, party_client(base_url, dispenser) as provider:
        r = await post_fhir(trust, "/FHIR/R4/$process-message", bundle)
        assert r.status_code == 200, r.text
        assert "applied" in r.json()["issue"][0]["diagnostics"]
        again = await post_fhir(trust, "/FHIR/R4/$process-message", bundle)
        assert "already applied" in again.json()["issue"][0]["diagnostics"]

        r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request(performer))
        passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")["resource"]
        assert passed["total"] == 1
        received = passed["entry"][0]["resource"]
        # As the EPR sent it, prescriber signature included, plus the gateway (a Device entry) and its own signed
        # Provenance, whose `who` references that Device, never the requester EPS matches the prescriber's to.
        *sent, device, gateway_provenance = received["entry"]
        assert sent == bundle["entry"]
        assert device["resource"]["resourceType"] == "Device"
        assert gateway_provenance["resource"]["signature"][0]["who"]["reference"] == device["fullUrl"]
        assert {k: v for k, v in received.items() if k != "entry"} == {k: v for k, v in bundle.items() if k != "entry"}
        jwks = (await provider.get("/.well-known/jwks.json")).json()
        assert verify_bundle(received, jwks).ok
        timeline = (
            await trust.get(f"/api/v1/prescriptions/{received['entry'][1]['resource']['groupIdentifier']['value']}")
        ).json()["timeline"]
        signature_event = next(e for e in timeline if e["kind"] == "prescriber-signature")
        assert signature_event["detail"].split(":")[0] in ("untrusted", "unsigned", "malformed")

        header_id = bundle["entry"][0]["resource"]["id"]
        r = await post_fhir(provider, "/FHIR/R4/$process-message", msg.acknowledgement(performer, header_id, "x"))
        assert r.status_code == 200, r.text
        short_form = bundle["entry"][1]["resource"]["groupIdentifier"]["value"]
        view = await trust.get(f"/api/v1/prescriptions/{short_form}")
        assert view.status_code == 200
        assert view.json()["status"]["code"] == "0002"
        assert view.json()["id"] == "7e27431e-367c-4bee-b9d7-78619e4b7d2d"  # the EPR's long-form id is kept


async def test_eps_order_from_another_trust_is_refused(
    gw: Gateway, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust = as_party("trust")  # RBA; the example prescription belongs to another organisation
    r = await post_fhir(trust, "/FHIR/R4/$process-message", json.loads(EXAMPLE.read_text()))
    assert r.status_code == 400
    assert "TENANT_MISMATCH" in error_codes(r.json())


async def test_provider_cannot_post_orders_and_trust_cannot_acknowledge(
    as_party: Callable[[str], httpx.AsyncClient],
) -> None:
    provider, trust = as_party("provider"), as_party("trust")
    r = await post_fhir(provider, "/FHIR/R4/$process-message", json.loads(EXAMPLE.read_text()))
    assert r.status_code == 403
    r = await post_fhir(trust, "/FHIR/R4/$process-message", msg.acknowledgement("RBA", "some-id", "x"))
    assert r.status_code == 403


async def test_bad_eps_order_is_rejected_with_located_errors(gw: Gateway, base_url: str) -> None:
    bundle: dict[str, Any] = json.loads(EXAMPLE.read_text())
    parsed = parse_bundle(bundle).prescription
    assert parsed is not None
    bundle["entry"][2]["resource"]["identifier"][0]["value"] = "9449304121"  # NHS number check digit broken
    epr = await register_party(gw, "trust", parsed.trust_ods)
    async with party_client(base_url, epr) as trust:
        r = await post_fhir(trust, "/FHIR/R4/$process-message", bundle)
    assert r.status_code == 400
    errors = [i for i in r.json()["issue"] if i["severity"] == "error"]
    assert [i["details"]["coding"][0]["code"] for i in errors] == ["INVALID_NHS_NUMBER"]
    assert errors[0]["expression"][0].startswith("Bundle.entry[2].resource.identifier")


async def test_reject_policy_refuses_an_unverified_prescriber_signature(settings: Settings) -> None:
    strict = settings.model_copy(update={"eps_signature_policy": "reject"})
    gw = build_gateway(strict)
    try:
        bundle: dict[str, Any] = json.loads(EXAMPLE.read_text())
        parsed = parse_bundle(bundle).prescription
        assert parsed is not None
        epr = await register_party(gw, "trust", parsed.trust_ods)
        async with serve(gw) as base, party_client(base, epr) as trust:
            r = await post_fhir(trust, "/FHIR/R4/$process-message", bundle)
        assert r.status_code == 400
        rejected = [i for i in r.json()["issue"] if i["details"]["coding"][0]["code"] == "SIGNATURE_REJECTED"]
        assert rejected and rejected[0]["expression"] == ["Bundle.entry[6].resource.signature[0]"]
    finally:
        await gw.close()


def _signed_by(bundle: dict[str, Any], signer: Any, signature_from: dict[str, Any] | None = None) -> dict[str, Any]:
    """`bundle` with its prescriber Provenance carrying `signer`'s XML-DSig over the bundle's own fragments, or the
    signature of `signature_from` (lifted from another prescription)."""
    out = copy.deepcopy(bundle)
    [prov] = [e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == "Provenance"]
    if signature_from is not None:
        [source] = [e["resource"] for e in signature_from["entry"] if e["resource"]["resourceType"] == "Provenance"]
        prov["signature"][0]["data"] = source["signature"][0]["data"]
        return out
    fragments = fragments_to_be_hashed(out, author_time=prov["signature"][0]["when"])
    prov["signature"][0]["data"] = base64.b64encode(signature_xml(signer, signed=fragments)).decode()
    return out


async def test_reject_policy_takes_a_verified_signature_and_refuses_one_lifted_from_another_order(
    settings: Settings, tmp_path: Path
) -> None:
    root = make_ca("Test Root CA")
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(root.cert.public_bytes(Encoding.PEM))
    signer = make_signer("555086689106_TEST_PRESCRIBER", root, not_after=datetime.now(UTC) + timedelta(days=30))
    strict = settings.model_copy(update={"eps_signature_policy": "reject", "eps_trust_anchors": anchors})
    gw = build_gateway(strict)
    try:
        original: dict[str, Any] = json.loads(EXAMPLE.read_text())
        other: dict[str, Any] = json.loads((SEND / "multiple-drugs/1-Process-Request-Send-200_OK.json").read_text())
        signed = _signed_by(original, signer)
        lifted = _signed_by(other, signer, signature_from=signed)
        parsed = parse_bundle(original).prescription
        assert parsed is not None and parse_bundle(other).prescription is not None
        epr = await register_party(gw, "trust", parsed.trust_ods)
        async with serve(gw) as base, party_client(base, epr) as trust:
            refused = await post_fhir(trust, "/FHIR/R4/$process-message", lifted)
            taken = await post_fhir(trust, "/FHIR/R4/$process-message", signed)
        assert taken.status_code == 200, taken.text
        assert refused.status_code == 400
        [issue] = [i for i in refused.json()["issue"] if i["details"]["coding"][0]["code"] == "SIGNATURE_REJECTED"]
        assert "signature invalid" in issue["diagnostics"] and "not this prescription's" in issue["diagnostics"]
    finally:
        await gw.close()
