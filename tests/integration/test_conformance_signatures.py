"""The conformance kit's own signature check against a gateway on loopback: a bundle the gateway signed and
released passes against its published JWKS; the same bundle changed after signing does not."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from conformance.signatures import verify_bundle
from tests.integration.helpers import post_export, post_fhir


async def _released_order(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> dict[str, Any]:
    r = await post_export(trust, render_export(export_rows(1, seed=8785)))
    assert r.status_code == 200 and r.json()["outcome"] == "accepted", r.text
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT"))
    [order] = msg.passed_orders(r.json())
    return order


def _patient(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


async def test_genuine_bundle_passes_and_tampered_ones_fail(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    order = await _released_order(trust, provider)
    jwks = (await anon.get("/.well-known/jwks.json")).json()

    genuine = verify_bundle(order, jwks)
    assert genuine.ok, genuine
    assert genuine.kid in {k["kid"] for k in jwks["keys"]}
    # Key order and whitespace are not signed: the bundle as another JSON library would write it still passes.
    reordered = json.loads(json.dumps(order, sort_keys=True, indent=3))
    assert verify_bundle(reordered, jwks).ok

    tampered = copy.deepcopy(order)
    ident = _patient(tampered)["identifier"][0]
    ident["value"] = ident["value"][:-1] + str((int(ident["value"][-1]) + 1) % 10)
    assert verify_bundle(tampered, jwks).status == "bad-signature"

    quantity = copy.deepcopy(order)
    request = next(e["resource"] for e in quantity["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    request["dispenseRequest"]["quantity"]["value"] += 1
    assert verify_bundle(quantity, jwks).status == "bad-signature"

    unsigned = copy.deepcopy(order)
    unsigned["entry"] = [e for e in unsigned["entry"] if e["resource"]["resourceType"] != "Provenance"]
    assert verify_bundle(unsigned, jwks).status == "unsigned"

    assert verify_bundle(order, {"keys": []}).status == "unknown-kid"
