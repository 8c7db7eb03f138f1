"""Patient data at rest: a full database dump holds no NHS number or name; rotation re-seals everything."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from adapters.fhir import parse_bundle
from adapters.jac.writer import render_export
from gateway.security.client_auth import ClientKey
from gateway.services.context import Gateway, build_gateway
from gateway.services.keys import reseal_all, rotate_data_key
from gateway.settings import Settings
from gateway.simulate import provider_messages as msg
from gateway.simulate.parties import party_client, register_party
from gateway.simulate.samples import export_rows
from gateway.store.migrate import upgrade
from gateway.store.repository import find_prescription
from gateway.store.sealed import prescription_context
from tests.integration.helpers import post_export, post_fhir
from tests.paths import DATA, EPS_EXAMPLES

ASCRIBE = (DATA / "ascribe" / "valid_full_features" / "input.xml").read_bytes()
HL7 = (DATA / "hl7v2" / "valid_order" / "input.hl7").read_bytes()
HL7_TYPE = "x-application/hl7-v2+er7"
EPS_ORDER = (
    EPS_EXAMPLES
    / "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner/1-Process-Request-Send-200_OK.json"
)


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


async def test_database_dump_holds_no_patient_identifiers(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, gw: Gateway
) -> None:
    rows = export_rows(1, seed=31)
    for row in rows:
        row.update(
            Surname="QUIXOTEFAMILY",
            Forenames="Zoë Dulcinea",
            Address1="77 Windmill Lane",
            Postcode="SO17 9QX",
            HospitalNumber="K7654321",
            Phone="023 8099 1234",
        )
    nhs = rows[0]["NHSNumber"]
    await _full_flow(trust, provider, rows)
    dump = _dump(gw)
    assert "inbound_payload" in dump and "prescription" in dump  # the dump is real and has our rows
    spaced = f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
    for secret in (nhs, spaced, "QUIXOTEFAMILY", "Dulcinea", "Windmill", "SO17 9QX", "K7654321", "8099 1234"):
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


# --- every flow and every rejection, in every format: no test patient's value in either database's dump ----------
# A patient no other test uses, written in each format's own way; `NHS_BAD` fails the Modulus 11 check.
NHS, NHS_BAD = "9990548609", "9990548601"
FAMILY, GIVEN, MRN = "QUIXOTEFAMILY", "Dulcinea", "Q7654321"
BIRTH, BIRTH_BAD = date(1931, 7, 19), "1931-02-30"
POSTCODE, PHONE, MOBILE, EMAIL = "ZE3 9JW", "023 8099 1234", "07700 944321", "dulcinea@la-mancha.example"


def _patient_values() -> list[str]:
    spaced = f"{NHS[:3]} {NHS[3:6]} {NHS[6:]}"
    births = (BIRTH.isoformat(), BIRTH.strftime("%d/%m/%Y"), BIRTH.strftime("%Y%m%d"), BIRTH_BAD)
    bad_births = ("30/02/1931", "19310230")
    return [NHS, spaced, NHS_BAD, FAMILY, GIVEN, MRN, *births, *bad_births, POSTCODE, PHONE, MOBILE, EMAIL]


def _jac(rx_prefix: str, *, nhs: str = NHS, dob: str = BIRTH.strftime("%d/%m/%Y"), email: str = EMAIL) -> bytes:
    rows = export_rows(1, seed=41, rx_prefix=rx_prefix)
    for row in rows:
        row.update(
            NHSNumber=nhs,
            Surname=FAMILY,
            Forenames=GIVEN,
            HospitalNumber=MRN,
            DOB=dob,
            Postcode=POSTCODE,
            Phone=PHONE,
            Mobile=MOBILE,
            Email=email,
        )
    return render_export(rows)


def _ascribe(rx: str, *, nhs: str = NHS, birth: str = BIRTH.isoformat()) -> bytes:
    text = ASCRIBE.decode("iso-8859-1")
    for pattern, value in (
        (r"<hc:NHSNumber>[^<]*<", f"<hc:NHSNumber>{nhs}<"),
        (r"<hc:Family>[^<]*<", f"<hc:Family>{FAMILY}<"),
        (r"<hc:Given>[^<]*<", f"<hc:Given>{GIVEN}<"),
        (r"<hc:BirthDate>[^<]*<", f"<hc:BirthDate>{birth}<"),
        (r"<hc:PostalCode>[^<]*<", f"<hc:PostalCode>{POSTCODE}<"),
        (r"<hc:LocalIdentifier([^>]*)>[^<]*<", rf"<hc:LocalIdentifier\1>{MRN}<"),
        (r'<hc:Telecom system="phone">[^<]*<', f'<hc:Telecom system="phone">{PHONE}<'),
        (r'<hc:Telecom system="mobile">[^<]*<', f'<hc:Telecom system="mobile">{MOBILE}<'),
        (r'<hc:Telecom system="email">[^<]*<', f'<hc:Telecom system="email">{EMAIL}<'),
        (r'<hc:Prescription id="[^"]*"', f'<hc:Prescription id="{rx}"'),
    ):
        text = re.sub(pattern, value, text)
    return text.encode("iso-8859-1")


def _hl7(control: str, *, nhs: str = NHS, birth: str = BIRTH.strftime("%Y%m%d")) -> bytes:
    text = HL7.decode()
    pid = (
        f"PID|||{nhs}^^^NHS^NH~{MRN}^^^RHM^MR||{FAMILY}^{GIVEN}^^^Mrs||{birth}|F|||12 Windmill Lane^Southampton^^^"
        f"{POSTCODE}^GBR^H||{PHONE}^PRN^PH~{MOBILE}^PRN^CP~^NET^Internet^{EMAIL}"
    )
    text = re.sub(r"PID\|[^\r\n]*", pid, text).replace("MSG00001", control).replace("HC-26-004711", control)
    return text.encode()


def _eps(nhs: str = NHS) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads(EPS_ORDER.read_text())
    bundle["identifier"]["value"] = str(uuid.uuid4())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "MessageHeader":  # a new message each time, so none is a resend
            resource["id"] = str(uuid.uuid4())
            entry["fullUrl"] = f"urn:uuid:{resource['id']}"
        if resource["resourceType"] == "Patient":
            resource["identifier"][0]["value"] = nhs
            resource["name"] = [{"use": "usual", "family": FAMILY, "given": [GIVEN]}]
            resource["birthDate"] = BIRTH.isoformat()
            resource["address"][0]["postalCode"] = POSTCODE
            resource["telecom"] = [{"system": "phone", "value": PHONE}, {"system": "email", "value": EMAIL}]
    return bundle


async def test_every_flow_and_rejection_leaves_no_patient_value_in_the_dump(
    gw: Gateway, parties: dict[str, ClientKey], base_url: str, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust, provider, rhm = as_party("trust"), as_party("provider"), as_party("other_trust")
    csv, xml, er7 = {"Content-Type": "text/csv"}, {"Content-Type": "application/xml"}, {"Content-Type": HL7_TYPE}
    # The trust's webhook owes it every event (webhook_delivery rows); bodies are built when sent, never stored.
    hook = await trust.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "format": "fhir"})
    assert hook.status_code == 201, hook.text
    # JAC: one accepted (its answer kept for an Idempotency-Key, sealed), one taken through release, acknowledgement,
    # deliveries and dispensing, with a clinical query naming the patient; then rejections.
    keyed = {**csv, "Idempotency-Key": "at-rest-jac-1"}
    accepted = (await trust.post("/api/v1/exports", content=_jac("QA"), headers=keyed)).json()
    assert accepted["prescriptions"][0]["outcome"] in ("accepted", "held"), accepted
    sid = await _full_flow(trust, provider, [_row_of(_jac("QB"))])
    question = f"Is {GIVEN} {FAMILY} ({NHS}, born {BIRTH.isoformat()}) still at {POSTCODE}?"
    query = msg.provider_request(
        "VNFKT", {"short_form_id": sid, "nhs_number": NHS}, "clinical-query", question=question
    )
    asked = await post_fhir(provider, "/FHIR/R4/Task", query)
    assert asked.status_code in (200, 201), asked.text
    for bad in (_jac("QC", nhs=NHS_BAD), _jac("QD", dob="30/02/1931"), _jac("QE", email="not an address")):
        r = await trust.post("/api/v1/exports", content=bad, headers=csv)
        assert r.json()["prescriptions"][0]["outcome"] == "rejected", r.text
    # Ascribe, HL7 v2 and EPS FHIR: accepted and rejected.
    for body, outcome in ((_ascribe("QX-1"), "accepted"), (_ascribe("QX-2", nhs=NHS_BAD, birth=BIRTH_BAD), "rejected")):
        r = await trust.post("/api/v1/exports", content=body, headers=xml)
        assert outcome in {p["outcome"] for p in r.json()["prescriptions"]}, r.text
    for body in (_hl7("QH0001"), _hl7("QH0002", nhs=NHS_BAD, birth="19310230")):
        assert (await rhm.post("/api/v1/exports", content=body, headers=er7)).status_code in (200, 422)
    eps_prescription = parse_bundle(_eps()).prescription
    assert eps_prescription is not None
    eps_trust = await register_party(gw, "trust", eps_prescription.trust_ods)
    async with party_client(base_url, eps_trust) as epr:
        sent = await post_fhir(epr, "/FHIR/R4/$process-message", _eps())
        assert sent.status_code == 200, sent.text
        refused = await post_fhir(epr, "/FHIR/R4/$process-message", _eps(NHS_BAD))
        assert refused.status_code in (400, 422), refused.text
    dump = _dump(gw)
    assert "inbound_payload" in dump and "lifecycle_event" in dump and "delivery" in dump
    upper = dump.upper()
    found = [value for value in _patient_values() if value.upper() in upper]
    assert found == []


def _row_of(export: bytes) -> dict[str, str]:
    import csv as csv_module
    import io

    return next(csv_module.DictReader(io.StringIO(export.decode("utf-8-sig"))))


async def test_the_sqlite_store_and_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    settings = Settings(data_dir=data, mode="test")
    upgrade(settings.effective_database_url)
    gw = build_gateway(settings)
    try:
        async with gw.engine.begin() as conn:  # a write: SQLite makes its WAL and shared-memory files
            await conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
        keys = [p for p in data.glob("keys/**/*") if p.is_file()]
        files = [data / "hgw.sqlite3", data / "hgw.sqlite3-wal", data / "hgw.sqlite3-shm", *keys]
        assert {f.name for f in files} >= {"hgw.sqlite3-wal", "data.key", "index.key"}
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        for folder in (data, data / "keys", data.parent):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    finally:
        await gw.close()
    loose = tmp_path / "loose.sqlite3"  # a store left world-readable by an older version is tightened on open
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    upgrade(f"sqlite+aiosqlite:///{loose}")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600
