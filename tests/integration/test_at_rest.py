"""Patient data at rest: a full database dump holds no NHS number or name; rotation re-seals everything."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.context import Gateway
from gateway.operations.key_rotation import reseal_all, rotate_data_key
from gateway.store.prescription_rows import find_prescription
from gateway.store.sealed import prescription_context
from gateway.wiring import build_gateway
from tests.integration.helpers import post_export, post_fhir


def _dump(gw: Gateway) -> str:
    url = make_url(gw.settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as conn:
            return "\n".join(conn.iterdump())
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(
        ["pg_dump", "--data-only", dsn], capture_output=True, text=True, check=True, timeout=60
    ).stdout


async def _full_flow(trust: httpx.AsyncClient, provider: httpx.AsyncClient, rows: list[dict[str, str]]) -> str:
    sid = (await post_export(trust, render_export(rows))).json()["prescriptions"][0]["short_form_id"]
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT", short_form_id=sid))
    order = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")["resource"]["entry"][0]
    facts = msg.order_facts(order["resource"])
    await post_fhir(provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNFKT", facts["message_id"], "x"))
    await post_fhir(provider, "/FHIR/R4/Task", msg.delivery_task("VNFKT", facts, 1, "scheduled"))
    await post_fhir(provider, "/FHIR/R4/Task", msg.delivery_task("VNFKT", facts, 1, "dispatched"))
    dn = msg.dispense_notification("VNFKT", facts, 1, "x", datetime.now(UTC))
    assert (await post_fhir(provider, "/FHIR/R4/$process-message", dn)).status_code == 200
    return sid


async def _rejected_in_words(trust: httpx.AsyncClient, provider: httpx.AsyncClient, words: str) -> None:
    """Another prescription, which the provider rejects giving its reason only in free text naming the patient."""
    sid = (await post_export(trust, render_export(export_rows(1, seed=35)))).json()["prescriptions"][0]["short_form_id"]
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT", short_form_id=sid))
    order = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")["resource"]["entry"][0]
    facts = msg.order_facts(order["resource"])
    outcome = {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "issue": [{"severity": "error", "code": "processing", "diagnostics": words, "details": {"text": words}}],
    }
    answer = await post_fhir(
        provider, "/FHIR/R4/$process-message", msg.fatal_response("VNFKT", facts["message_id"], "x", outcome)
    )
    assert answer.status_code == 200, answer.text
    timeline = (await trust.get(f"/api/v1/prescriptions/{sid}")).text
    assert "free text not kept" in timeline and "QUIXOTEFAMILY" not in timeline


async def test_database_dump_holds_no_patient_identifiers(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, gw: Gateway
) -> None:
    rows = export_rows(1, seed=31)
    for row in rows:
        row.update(
            Surname="QUIXOTEFAMILY",
            Forenames="Zoë Dulcinea",
            Address1="77 Windmill Lane",
            Postcode="SO15 5QA",  # a postcode no organisation of the directory has
            HospitalNumber="K7654321",
            Phone="023 8099 1234",
        )
    nhs = rows[0]["NHSNumber"]
    await _full_flow(trust, provider, rows)
    await _rejected_in_words(trust, provider, "Mrs Zoë Dulcinea QUIXOTEFAMILY of 77 Windmill Lane, 023 8099 1234")
    dump = _dump(gw)
    assert "inbound_payload" in dump and "prescription" in dump  # the dump is real and has our rows
    spaced = f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
    for secret in (nhs, spaced, "QUIXOTEFAMILY", "Dulcinea", "Windmill", "SO15 5QA", "K7654321", "8099 1234"):
        assert secret not in dump, secret


async def test_data_key_rotation_reseals_every_row(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, gw: Gateway
) -> None:
    sid = await _full_flow(trust, provider, export_rows(1, seed=32))
    # A stored idempotent answer is sealed too (issue 7).
    release = msg.release_request("VNFKT")
    r = await provider.post("/FHIR/R4/Task/$release", json=release, headers={"Idempotency-Key": "at-rest-1"})
    assert r.status_code == 200
    report = await rotate_data_key(gw)
    assert report.resealed["idempotency_record"] == 1
    assert report.resealed["inbound_payload"] == 1
    assert report.resealed["prescription"] == 1
    assert report.resealed["fhir_message"] >= 2  # the order and the dispense notification
    async with gw.engine.connect() as conn:
        blobs = [
            bytes(b)
            for t, c in (
                ("inbound_payload", "body_enc"),
                ("prescription", "canonical_enc"),
                ("fhir_message", "body_enc"),
                ("idempotency_record", "response_enc"),
            )
            for (b,) in (await conn.execute(text(f"SELECT {c} FROM {t}"))).all()  # noqa: S608
        ]
    assert {b[1:9].hex() for b in blobs} == {report.key_id}
    # Rerunning changes nothing, and a gateway started after the rotation reads every row.
    fresh = build_gateway(gw.settings)
    try:
        assert (await reseal_all(fresh)).resealed == {
            "inbound_payload": 0,
            "prescription": 0,
            "fhir_message": 0,
            "idempotency_record": 0,
        }
        async with fresh.sessions() as session:
            p = await find_prescription(session, sid)
        assert p is not None
        canonical = json.loads(fresh.cipher.open(p.canonical_enc, context=prescription_context(p.id, p.trust_ods)))
        assert canonical["rx_number"] == p.rx_number
    finally:
        await fresh.close()
    assert len(list((gw.settings.data_dir / "keys").glob("data-*.old.key"))) == 1
