"""Invoice intake: store the raw body sealed, read it (claim, FHIR Invoice or CSV), reconcile every line against
the gateway's record, and store the invoice and its lines in one audited transaction.

The same invoice number sent again with the same bytes answers with the stored invoice (a retry); with other
bytes it is refused (409): a correction is a new invoice, and the lines it bills again are then duplicates unless
the trust disputed the first ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

from gateway import audit
from gateway.context import Gateway
from gateway.domain.principal import UPDATE, Principal, Role, require_role
from gateway.errors import ConflictError, InputError
from gateway.fhir.serialise import loads_bundle
from gateway.invoicing.billed import BilledInvoice
from gateway.invoicing.claim import read_claim
from gateway.invoicing.csv_invoice import parse_csv_invoice
from gateway.invoicing.fhir_invoice import read_fhir_invoice
from gateway.invoicing.prices import Price
from gateway.invoicing.reconcile import Reconciled, Reconciler, vat_rates
from gateway.store import inbound_messages, repository
from gateway.store import invoices as store
from gateway.store.invoice_tables import Invoice, InvoiceLine
from gateway.store.sealed import inbound_context
from gateway.store.tables import InboundPayload

CLAIM: Final = "claim"
FHIR: Final = "fhir"
CSV: Final = "csv"
FORMATS: Final = {CLAIM: "eps-claim", FHIR: "fhir-invoice", CSV: "csv-invoice"}
PENDING: Final = "pending"


@dataclass(frozen=True, slots=True)
class Submitted:
    """The stored invoice and whether this request stored it (False: the same invoice sent again)."""

    invoice: Invoice
    lines: list[InvoiceLine]
    created: bool


def _reader(source: str, provider_ods: str, today: date) -> Callable[[bytes], BilledInvoice]:
    def read(payload: bytes) -> BilledInvoice:
        if source == CSV:
            return parse_csv_invoice(payload, provider_ods)
        resource = loads_bundle(payload)
        if source == CLAIM:
            return read_claim(resource, provider_ods, today)
        return read_fhir_invoice(resource, provider_ods)

    return read


async def submit_invoice(
    gw: Gateway, principal: Principal, payload: bytes, source: str, content_type: str
) -> Submitted:
    """Store, read, reconcile and keep one invoice from the calling provider; InputError locates every problem."""
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    provider_ods = principal.ods
    payload_id = str(uuid.uuid4())
    sha = hashlib.sha256(payload).hexdigest()
    async with gw.sessions() as session, session.begin():
        repository.save(
            session,
            InboundPayload(
                id=payload_id,
                tenant_ods=provider_ods,
                format=FORMATS[source],
                content_type=content_type[:100],
                sha256=sha,
                size=len(payload),
                body_enc=gw.cipher.seal(payload, context=inbound_context(payload_id, provider_ods)),
                received_at=gw.clock(),
            )
        )
    try:
        billed = await asyncio.to_thread(_reader(source, provider_ods, gw.clock().date()), payload)
    except InputError as exc:
        await _outcome(gw, payload_id, "rejected", {"issues": [i.code for i in exc.issues][:50]})
        raise
    try:
        submitted = await _store(gw, principal, billed, payload_id, sha)
    except ConflictError:
        await _outcome(gw, payload_id, "rejected", {"issues": ["INVOICE_NUMBER_REUSED"]})
        raise
    counts = Counter(line.result for line in submitted.lines)
    outcome = "accepted" if submitted.created else "duplicate"
    await _outcome(gw, payload_id, outcome, {"invoice": submitted.invoice.id, "results": dict(sorted(counts.items()))})
    return submitted


async def _outcome(gw: Gateway, payload_id: str, outcome: str, summary: dict[str, object]) -> None:
    async with gw.sessions() as session, session.begin():
        await inbound_messages.set_inbound_outcome(session, payload_id, outcome, json.dumps(summary))


async def _store(gw: Gateway, principal: Principal, billed: BilledInvoice, payload_id: str, sha: str) -> Submitted:
    vat = vat_rates(gw.settings.invoice_vat_rates)
    async with gw.sessions() as session, session.begin():
        await store.hold_invoicing(session, billed.provider_ods)
        earlier = await store.invoice_by_reference(session, billed.provider_ods, billed.reference)
        if earlier is not None:
            first = await repository.get_by_id(session, InboundPayload, earlier.inbound_id)
            if first is None or first.sha256 != sha:
                raise ConflictError(f"invoice {billed.reference} was already submitted with other content")
            return Submitted(earlier, await store.lines_of(session, [earlier.id]), created=False)
        facts = await store.prescription_facts(
            session, billed.provider_ods, {line.short_form_id for line in billed.lines}
        )
        trusts = {billed.trust_ods} if billed.trust_ods else {f.trust_ods for f in facts.values()}
        prices = [Price.of(p) for p in await store.price_entries(session, billed.provider_ods, trusts)]
        already = await store.billed_keys(session, [f.prescription_id for f in facts.values()])
        reconciler = Reconciler(facts, prices, vat, billed.trust_ods, already)
        results = await asyncio.to_thread(reconciler.run, billed)
        trust = billed.trust_ods or next((r.trust_ods for r in results if r.trust_ods), None)
        now = gw.clock()
        invoice = Invoice(
            id=str(uuid.uuid4()),
            provider_ods=billed.provider_ods,
            trust_ods=trust,
            source=billed.source,
            reference=billed.reference,
            inbound_id=payload_id,
            issued=billed.issued,
            status=PENDING,
            net_pence=sum(r.net_pence for r in results),
            vat_pence=sum(r.vat_pence for r in results),
            total_pence=sum(r.net_pence + r.vat_pence for r in results),
            created_at=now,
            updated_at=now,
        )
        repository.save(session, invoice)
        await repository.save_now(session)
        lines = [_line_row(invoice, r) for r in results]
        repository.save(session, *lines)
        counts = Counter(r.result for r in results)
        detail: dict[str, str | int | bool] = {
            "source": billed.source,
            "lines": len(results),
            "matched": counts.get("matched", 0),
        }
        await audit.append(session, gw.clock, principal, "invoice.submit", "invoice", invoice.id, "success", detail)
    return Submitted(invoice, lines, created=True)


def _line_row(invoice: Invoice, r: Reconciled) -> InvoiceLine:
    month = (r.delivery_date or invoice.issued).strftime("%Y-%m")
    return InvoiceLine(
        invoice_id=invoice.id,
        line_no=r.line.line_no,
        provider_ods=invoice.provider_ods,
        trust_ods=r.trust_ods or invoice.trust_ods,
        short_form_id=r.line.short_form_id[:20],
        prescription_id=r.prescription_id,
        line_item_id=(r.line_item_id or r.line.line_item_id or None)
        and str(r.line_item_id or r.line.line_item_id)[:36],
        delivery_number=r.delivery_number,
        delivery_date=r.delivery_date,
        month=month,
        kind=r.line.kind,
        code=r.line.code,
        quantity=str(r.line.quantity)[:24],
        unit_price_pence=r.unit_price_pence,
        net_pence=r.net_pence,
        vat_rate=str(r.vat_rate)[:8],
        vat_pence=r.vat_pence,
        result=r.result,
        expected=json.dumps(r.expected, sort_keys=True),
        seen=json.dumps(r.seen, sort_keys=True),
        bill_key=r.bill_key,
    )
