"""Invoices in (EPS Claim, FHIR Invoice, CSV), read back, decided on; the price list. docs/invoicing.md."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.fhir_outcomes import success_outcome
from gateway.api.fhir_response import FhirJSONResponse
from gateway.api.idempotency import Idempotency
from gateway.api.json_body import StrictBody, body_doc, parse_body
from gateway.context import Gateway
from gateway.errors import InputError, Issue, Location
from gateway.invoicing import decisions, prices, views
from gateway.invoicing.intake import CLAIM, CSV, FHIR, submit_invoice

router = APIRouter(tags=["invoicing"])
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
Body = Annotated[bytes, Depends(read_body)]
InvoiceId = Annotated[str, Path(max_length=36, description="the gateway's invoice id")]


def _media(content_type: str, *accepted: str) -> None:
    if content_type.split(";")[0].strip().lower() not in accepted:
        where = Location(path="Content-Type")
        issue = Issue(
            "UNSUPPORTED_MEDIA_TYPE", "not accepted here", where, value=content_type[:100], expected=", ".join(accepted)
        )
        raise InputError([issue])


@router.post("/FHIR/R4/Claim", summary="An EPS dispensing claim, accepted or refused as EPS does, then reconciled")
async def post_claim(gw: GatewayDep, principal: CurrentPrincipal, body: Body, idem: Idempotency) -> Response:
    async def answer() -> Response:
        done = await submit_invoice(gw, principal, body, CLAIM, "application/fhir+json")
        text = f"claim {done.invoice.reference} {'received' if done.created else 'already received'}"
        response = FhirJSONResponse(success_outcome(f"{text}: invoice {done.invoice.id}"))
        response.headers["Location"] = f"/FHIR/R4/Invoice/{done.invoice.id}"
        return response

    return await idem.run(answer)


@router.post("/FHIR/R4/Invoice", summary="A FHIR R4 Invoice; answers with it reconciled (status and line results)")
async def post_fhir_invoice(gw: GatewayDep, principal: CurrentPrincipal, body: Body, idem: Idempotency) -> Response:
    async def answer() -> Response:
        done = await submit_invoice(gw, principal, body, FHIR, "application/fhir+json")
        status = 201 if done.created else 200
        return FhirJSONResponse(views.fhir_invoice(done.invoice, done.lines), status_code=status)

    return await idem.run(answer)


@router.get("/FHIR/R4/Invoice/{invoice_id}", summary="An invoice as FHIR: status from the trust's decisions")
async def get_fhir_invoice(gw: GatewayDep, principal: CurrentPrincipal, invoice_id: InvoiceId) -> Response:
    invoice, lines = await views.get_invoice(gw, principal, invoice_id)
    return FhirJSONResponse(views.fhir_invoice(invoice, lines))


@router.post("/api/v1/invoices", summary="A CSV invoice (text/csv); answers with it reconciled line by line")
async def post_csv_invoice(
    gw: GatewayDep,
    principal: CurrentPrincipal,
    body: Body,
    idem: Idempotency,
    content_type: Annotated[str, Header()] = "application/octet-stream",
) -> Response:
    async def answer() -> Response:
        _media(content_type, "text/csv")
        done = await submit_invoice(gw, principal, body, CSV, content_type)
        return JSONResponse(views.invoice_json(done.invoice, done.lines), status_code=201 if done.created else 200)

    return await idem.run(answer)


@router.get("/api/v1/invoices", summary="Reconciled invoices: a trust's own, a provider's own, or all (operators)")
async def list_invoices(
    gw: GatewayDep,
    principal: CurrentPrincipal,
    status: Annotated[
        str | None, Query(max_length=20, description="pending, approved, disputed, part-approved")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    return JSONResponse({"invoices": await views.list_invoices(gw, principal, status=status, limit=limit)})


@router.get("/api/v1/invoices/{invoice_id}", summary="One invoice with each line's result, expected and seen")
async def get_invoice(gw: GatewayDep, principal: CurrentPrincipal, invoice_id: InvoiceId) -> Response:
    invoice, lines = await views.get_invoice(gw, principal, invoice_id)
    return JSONResponse(views.invoice_json(invoice, lines))


class DecisionIn(StrictBody):
    line: int | None = Field(default=None, ge=1, description="the line number; null: every line still pending")
    decision: Literal["approve", "dispute"]
    reason: str | None = Field(default=None, max_length=40, description="a code, e.g. not-delivered")


class DecisionsIn(StrictBody):
    decisions: list[DecisionIn] = Field(min_length=1, max_length=10_000)


@router.post(
    "/api/v1/invoices/{invoice_id}/decisions",
    summary="The trust approves or disputes lines (each once), audited",
    openapi_extra=body_doc(DecisionsIn),
)
async def post_decisions(
    gw: GatewayDep, principal: CurrentPrincipal, body: Body, idem: Idempotency, invoice_id: InvoiceId
) -> Response:
    async def answer() -> Response:
        parsed = parse_body(body, DecisionsIn)
        wanted = [decisions.Decision(d.line, d.decision, d.reason) for d in parsed.decisions]
        invoice, lines = await decisions.decide(gw, principal, invoice_id, wanted)
        return JSONResponse(views.invoice_json(invoice, lines))

    return await idem.run(answer)


@router.post("/api/v1/admin/prices", summary="Load price-list entries (text/csv or JSON), audited; operators only")
async def post_prices(
    gw: GatewayDep,
    principal: CurrentPrincipal,
    body: Body,
    idem: Idempotency,
    content_type: Annotated[str, Header()] = "application/octet-stream",
) -> Response:
    async def answer() -> Response:
        _media(content_type, "text/csv", "application/json")
        if content_type.startswith("text/csv"):
            entries = prices.parse_price_csv(body)
        else:
            entries = prices.parse_price_json(_price_objects(body))
        report = await prices.load_prices(gw, entries, actor=principal)
        return JSONResponse(report.as_json())

    return await idem.run(answer)


def _price_objects(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InputError([Issue("INVALID_JSON", f"the body is not JSON: {exc}", Location(path="body"))]) from exc
    entries = data.get("prices") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError([Issue("INVALID_VALUE", 'expected {"prices": [{…}, …]}', Location(path="prices"))])
    return entries


@router.get("/api/v1/admin/prices", summary="Price-list entries: a trust's own, a provider's own, or all")
async def get_prices(
    gw: GatewayDep,
    principal: CurrentPrincipal,
    trust: Annotated[str | None, Query(max_length=12)] = None,
    provider: Annotated[str | None, Query(max_length=12)] = None,
) -> Response:
    found = await prices.list_prices(gw, principal, trust_ods=trust, provider_ods=provider)
    return JSONResponse({"prices": [p.as_json() for p in found]})
