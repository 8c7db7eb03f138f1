"""Signed outbound bundles: the Provenance shape, verification, and every tampering caught."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.signing.bundle import (
    GATEWAY_DEVICE_URL,
    VerdictStatus,
    gateway_device,
    sign_bundle,
    verify_bundle,
    without_gateway_provenance,
)
from gateway.signing.exceptions import CanonicalisationError
from gateway.signing.jws import parse_detached
from gateway.signing.keys import SigningKeyStore
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER
from gateway.validator.validator import Validator
from tests.unit.signing.conftest import medication_request_refs
from tests.unit.signing.support import NOW

Bundle = dict[str, Any]


def signed(bundle: Bundle, store: SigningKeyStore) -> Bundle:
    return sign_bundle(bundle, store, now=NOW, target_refs=medication_request_refs(bundle))


def wire(bundle: Bundle) -> Bundle:
    """The bundle as a receiver parses it from the bytes the gateway sends."""
    return loads_bundle(dumps_bundle(bundle))


def resources(bundle: Bundle, resource_type: str) -> list[Bundle]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def gateway_provenance(bundle: Bundle) -> Bundle:
    [entry] = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    return entry


def test_provenance_entry_shape(order_bundle: Bundle, store: SigningKeyStore) -> None:
    out = sign_bundle(order_bundle, store, now=NOW, target_refs=["urn:uuid:a", "urn:uuid:b"], provenance_id="p-1")
    *kept, device, entry = out["entry"]
    assert kept == order_bundle["entry"]
    # The gateway is an entry of the bundle, signed with the rest, and the Provenance's `who` references it.
    assert device == {"fullUrl": GATEWAY_DEVICE_URL, "resource": gateway_device()}
    assert device["resource"]["resourceType"] == "Device"
    gateway = {"reference": GATEWAY_DEVICE_URL, "display": "Homecare Gateway"}
    assert entry["fullUrl"] == "urn:uuid:p-1"
    provenance = entry["resource"]
    assert provenance["target"] == [{"reference": "urn:uuid:a"}, {"reference": "urn:uuid:b"}]
    assert provenance["recorded"] == "2026-11-22T10:00:00Z"
    assert provenance["agent"] == [{"who": gateway}]
    [signature] = provenance["signature"]
    assert signature["type"] == [
        {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.5", "display": "Verification Signature"}
    ]
    assert signature["when"] == "2026-11-22T10:00:00Z"
    assert signature["who"] == gateway
    assert signature["sigFormat"] == "application/jose"
    jws = base64.b64decode(signature["data"], validate=True).decode("ascii")
    header_b64, payload_b64, _ = jws.split(".")
    assert payload_b64 == ""
    assert parse_detached(jws).header == {"alg": "ES256", "kid": store.current().kid}


def test_input_is_not_changed(order_bundle: Bundle, store: SigningKeyStore) -> None:
    before = copy.deepcopy(order_bundle)
    signed(order_bundle, store)
    assert order_bundle == before


def test_signed_bundle_verifies_by_store_and_by_published_jwks(order_bundle: Bundle, store: SigningKeyStore) -> None:
    out = signed(order_bundle, store)
    jwks = json.loads(json.dumps(store.public_jwks()))
    for received in (out, wire(out), json.loads(dumps_bundle(out))):  # Decimals, and plain floats
        verdict = verify_bundle(received, store)
        assert verdict.ok and verdict.kid == store.current().kid
        assert verify_bundle(received, jwks).ok


def test_retired_key_still_verifies_unknown_kid_does_not(order_bundle: Bundle, store: SigningKeyStore) -> None:
    out = wire(signed(order_bundle, store))
    old_jwks = store.public_jwks()
    store.rotate()
    assert verify_bundle(out, store).ok
    assert verify_bundle(out, store.public_jwks()).ok
    fresh = signed(order_bundle, store)
    verdict = verify_bundle(fresh, old_jwks)
    assert verdict.status is VerdictStatus.UNKNOWN_KID and verdict.kid == store.current().kid


def test_signing_again_replaces_the_gateway_provenance(order_bundle: Bundle, store: SigningKeyStore) -> None:
    once = signed(order_bundle, store)
    store.rotate()
    twice = signed(once, store)
    assert len(twice["entry"]) == len(order_bundle["entry"]) + 2  # one gateway Device, one gateway Provenance
    assert [e["resource"]["resourceType"] for e in twice["entry"][-2:]] == ["Device", "Provenance"]
    assert verify_bundle(twice, store).kid == store.current().kid


def test_eps_provenance_is_not_taken_for_the_gateways(order_bundle: Bundle, store: SigningKeyStore) -> None:
    eps = {"fullUrl": "urn:uuid:e", "resource": {"resourceType": "Provenance", "signature": [{"data": "AAAA"}]}}
    bundle = {**order_bundle, "entry": [*order_bundle["entry"], eps]}
    out = signed(bundle, store)
    assert eps in out["entry"] and verify_bundle(out, store).ok
    device = {"fullUrl": GATEWAY_DEVICE_URL, "resource": gateway_device()}
    assert without_gateway_provenance(out) == {**bundle, "entry": [*bundle["entry"], device]}
    # The prescriber's Provenance is left as it came: EPS still matches its signature to the requester.
    [gateway] = [e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == "Provenance" and e != eps]
    assert gateway["signature"][0]["who"]["reference"] == GATEWAY_DEVICE_URL != eps["resource"].get("who")


def test_the_gateway_device_is_signed_with_the_bundle(order_bundle: Bundle, store: SigningKeyStore) -> None:
    out = signed(order_bundle, store)
    forged = copy.deepcopy(out)
    next(e for e in forged["entry"] if e["fullUrl"] == GATEWAY_DEVICE_URL)["resource"]["deviceName"][0]["name"] = "X"
    assert verify_bundle(out, store).ok
    assert verify_bundle(forged, store).status is VerdictStatus.BAD_SIGNATURE


def test_bundle_without_entries(store: SigningKeyStore) -> None:
    bare = {"resourceType": "Bundle", "type": "message"}
    out = sign_bundle(bare, store, now=NOW, target_refs=["urn:uuid:x"])
    assert verify_bundle(out, store).ok


def test_unsigned_and_doubly_signed_bundles(order_bundle: Bundle, store: SigningKeyStore) -> None:
    assert verify_bundle(order_bundle, store).status is VerdictStatus.UNSIGNED
    out = signed(order_bundle, store)
    doubled = {**out, "entry": [*out["entry"], out["entry"][-1]]}
    assert verify_bundle(doubled, store).status is VerdictStatus.MALFORMED


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("not base64!", id="not-base64"),
        pytest.param(base64.b64encode(b"a.b").decode(), id="two-parts"),
        pytest.param(base64.b64encode(b"eyJhbGciOiJFUzI1NiJ9.cGF5bG9hZA.c2ln").decode(), id="attached-payload"),
        pytest.param(base64.b64encode(b"eyJhbGciOiJIUzI1NiIsImtpZCI6IngifQ..c2ln").decode(), id="alg-HS256"),
        pytest.param(base64.b64encode(b"eyJhbGciOiJub25lIiwia2lkIjoieCJ9..").decode(), id="alg-none"),
        pytest.param(base64.b64encode(b"eyJhbGciOiJFUzI1NiJ9..c2ln").decode(), id="no-kid"),
        pytest.param(base64.b64encode(b"bm90IGpzb24..c2ln").decode(), id="header-not-json"),
        pytest.param("", id="empty"),
    ],
)
def test_malformed_signature_data(order_bundle: Bundle, store: SigningKeyStore, data: str) -> None:
    out = signed(order_bundle, store)
    gateway_provenance(out)["resource"]["signature"][0]["data"] = data
    assert verify_bundle(out, store).status is VerdictStatus.MALFORMED


def test_b64_false_header_is_refused(order_bundle: Bundle, store: SigningKeyStore) -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "ES256", "kid": store.current().kid, "b64": False,
                                                  "crit": ["b64"]}).encode()).rstrip(b"=")  # fmt: skip
    out = signed(order_bundle, store)
    gateway_provenance(out)["resource"]["signature"][0]["data"] = base64.b64encode(header + b"..c2ln").decode()
    assert verify_bundle(out, store).status is VerdictStatus.MALFORMED


def test_a_number_jcs_cannot_carry_is_refused_at_signing(order_bundle: Bundle, store: SigningKeyStore) -> None:
    bundle = copy.deepcopy(order_bundle)
    dose = resources(bundle, "MedicationRequest")[0]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    dose["value"] = Decimal("0.40000000000000000001")
    with pytest.raises(CanonicalisationError) as caught:
        signed(bundle, store)
    assert caught.value.path.endswith("doseAndRate[0].doseQuantity.value")


def test_signing_needs_an_aware_time_and_a_target(order_bundle: Bundle, store: SigningKeyStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        sign_bundle(order_bundle, store, now=NOW.replace(tzinfo=None), target_refs=["urn:uuid:x"])
    with pytest.raises(ValueError, match="target"):
        sign_bundle(order_bundle, store, now=NOW, target_refs=[])


# --- the tamper corpus: each edit is made on the bundle as received, after signing --------------------------


def _mr(b: Bundle, i: int = 0) -> Bundle:
    return resources(b, "MedicationRequest")[i]


def _dose(b: Bundle) -> Bundle:
    dose: Bundle = _mr(b)["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    return dose


def _set_nhs_number(b: Bundle) -> None:
    [patient] = resources(b, "Patient")
    nhs = next(i for i in patient["identifier"] if i["system"] == "https://fhir.nhs.uk/Id/nhs-number")
    nhs["value"] = "9434765870"


def _remove_item(b: Bundle) -> None:
    second = _mr(b, 1)
    b["entry"] = [e for e in b["entry"] if e["resource"] is not second]


def _swap_items(b: Bundle) -> None:
    first, second = (i for i, e in enumerate(b["entry"]) if e["resource"]["resourceType"] == "MedicationRequest")
    b["entry"][first], b["entry"][second] = b["entry"][second], b["entry"][first]


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def _provenance_first(b: Bundle) -> Bundle:
    return {**b, "entry": b["entry"][-1:] + b["entry"][:-1]}


def _reindent(b: Bundle) -> Bundle:
    return json.loads(dumps_bundle(b, indent=4))


def _same_dose_written_differently(b: Bundle) -> Bundle:
    _dose(b)["value"] = Decimal("0.40")
    return b


def _flip_signature_byte(b: Bundle) -> None:
    signature = gateway_provenance(b)["resource"]["signature"][0]
    header, _, sig = base64.b64decode(signature["data"]).decode().split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[10] ^= 0x01
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    signature["data"] = base64.b64encode(f"{header}..{flipped}".encode()).decode()


def _drop_provenance(b: Bundle) -> None:
    b["entry"] = b["entry"][:-1]


TAMPERS: dict[str, Callable[[Bundle], None]] = {
    "dose 0.4 -> 0.5": lambda b: _dose(b).update(value=Decimal("0.5")),
    "dose 0.4 -> 0.4000001": lambda b: _dose(b).update(value=Decimal("0.4000001")),
    "dose unit mL -> L": lambda b: _dose(b).update(code="L"),
    "dispense quantity 2 -> 20": lambda b: _mr(b)["dispenseRequest"]["quantity"].update(value=20),
    "quantity as a string": lambda b: _mr(b)["dispenseRequest"]["quantity"].update(value="2"),
    "repeats 5 -> 6": lambda b: _mr(b)["dispenseRequest"].update(numberOfRepeatsAllowed=6),
    "NHS number": _set_nhs_number,
    "dm+d code": lambda b: _mr(b, 1)["medicationCodeableConcept"]["coding"][0].update(code="322236009"),
    "performer ODS": lambda b: _mr(b)["dispenseRequest"]["performer"]["identifier"].update(value="VNCEL"),
    "receiver ODS": lambda b: resources(b, "MessageHeader")[0]["destination"][0]["receiver"]["identifier"].update(
        value="VNCEL"
    ),
    "remove an item": _remove_item,
    "swap two items": _swap_items,
    "add a note": lambda b: _mr(b).update(note=[{"text": "double the dose"}]),
    "drop a field": lambda b: _mr(b).pop("dosageInstruction"),
    "authoredOn": lambda b: _mr(b).update(authoredOn="2026-11-20T14:05:00Z"),
    "flip a signature bit": _flip_signature_byte,
    "drop the Provenance": _drop_provenance,
}
HARMLESS: dict[str, Callable[[Bundle], Bundle]] = {
    "reorder every object's keys": _reverse_keys,
    "re-indent (whitespace)": _reindent,
    "move the Provenance first": _provenance_first,
    "dose written 0.40 (same value; JCS signs numbers, not their spelling)": _same_dose_written_differently,
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_tampering_is_caught(order_bundle: Bundle, store: SigningKeyStore, name: str) -> None:
    received = wire(signed(order_bundle, store))
    TAMPERS[name](received)
    assert not verify_bundle(wire(received), store).ok


@pytest.mark.parametrize("name", list(HARMLESS))
def test_harmless_changes_still_verify(order_bundle: Bundle, store: SigningKeyStore, name: str) -> None:
    received = HARMLESS[name](wire(signed(order_bundle, store)))
    assert verify_bundle(wire(received), store).ok


def test_tampered_messages_caught_percentage(order_bundle: Bundle, store: SigningKeyStore) -> None:
    caught = 0
    for tamper in TAMPERS.values():
        received = wire(signed(order_bundle, store))
        tamper(received)
        caught += not verify_bundle(wire(received), store).ok
    share = 100 * caught / len(TAMPERS)
    print(f"tampered messages caught: {caught}/{len(TAMPERS)} ({share:.0f}%)")
    assert share == 100


def test_a_signed_order_with_the_gateway_device_is_valid_to_our_profile(
    order_bundle: Bundle, store: SigningKeyStore
) -> None:
    out = signed(order_bundle, store)
    found = Validator.from_package().validate(out, HOMECARE_PRESCRIPTION_ORDER)
    assert [i.as_dict() for i in found if i.severity != "information"] == []
    [device] = [e for e in out["entry"] if e["resource"]["resourceType"] == "Device"]
    # Nothing in the bundle refers to a resource that is not there: the Provenance's `who` resolves.
    provenance = gateway_provenance(out)["resource"]
    assert {provenance["agent"][0]["who"]["reference"], provenance["signature"][0]["who"]["reference"]} == {
        device["fullUrl"]
    }
