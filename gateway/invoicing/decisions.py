"""The trust's decisions: approve or dispute each reconciled line of an invoice billed to it, audited.

A line is decided once (a second decision on it is a conflict); the invoice's status follows from its lines:
pending while any line is, else approved, disputed, or part-approved. A dispute carries a reason code (the
line's reconciliation result when none is given): free text could carry patient data, so none is taken. Each
decision is an `invoice-decided` event owed, in the same transaction, to the provider's webhook subscriptions
(gateway/webhooks/invoice_events.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from gateway import audit
from gateway.context import Gateway
from gateway.domain.principal import WRITE, Principal, Role, require_role
from gateway.errors import ConflictError, InputError, Issue, Location, NotFoundError
from gateway.store import invoices as store
from gateway.store import repository
from gateway.store.invoice_tables import Invoice, InvoiceLine
from gateway.webhooks import invoice_events

APPROVE: Final = "approve"
DISPUTE: Final = "dispute"
DECIDED: Final = {APPROVE: "approved", DISPUTE: "disputed"}
REASON: Final = re.compile(r"[a-z][a-z0-9-]{0,39}")


@dataclass(frozen=True, slots=True)
class Decision:
    """One line's decision; `line` None: every line still pending."""

    line: int | None
    decision: str
    reason: str | None = None


def check(decisions: Sequence[Decision]) -> None:
    """InputError locating each malformed decision (the JSON index in `path`)."""
    issues = []
    for n, d in enumerate(decisions):
        where = Location(path=f"decisions[{n}]")
        if d.decision not in DECIDED:
            issues.append(
                Issue("INVALID_VALUE", "unknown decision", where, value=d.decision[:20], expected="approve or dispute")
            )
        if d.reason is not None and not REASON.fullmatch(d.reason):
            issues.append(
                Issue("INVALID_VALUE", "a reason is a code", where, expected="lowercase letters, digits and -")
            )
    if not decisions:
        issues.append(Issue("MISSING_VALUE", "no decisions", Location(path="decisions"), expected="one or more"))
    if issues:
        raise InputError(issues)


def invoice_status(lines: Sequence[InvoiceLine]) -> str:
    decided = Counter(line.decision for line in lines)
    if decided["pending"] or not lines:
        return "pending"
    if decided["approved"] == len(lines):
        return "approved"
    return "disputed" if decided["disputed"] == len(lines) else "part-approved"


async def decide(
    gw: Gateway, principal: Principal, invoice_id: str, decisions: Sequence[Decision]
) -> tuple[Invoice, list[InvoiceLine]]:
    """Apply the trust's decisions to its invoice in one audited transaction; the invoice and lines after."""
    require_role(principal, Role.TRUST, scopes=WRITE)
    check(decisions)
    async with gw.sessions() as session, session.begin():
        invoice = await repository.get_by_id(session, Invoice, invoice_id[:36])
        if invoice is None or invoice.trust_ods != principal.ods:
            raise NotFoundError(f"no invoice {invoice_id[:36]}")
        await store.hold_invoicing(session, invoice.provider_ods)
        lines = await store.lines_of(session, [invoice.id])
        by_no = {line.line_no: line for line in lines}
        now = gw.clock()
        touched: list[InvoiceLine] = []
        issues = []
        for n, d in enumerate(decisions):
            targets = [line for line in lines if line.decision == "pending"] if d.line is None else [by_no.get(d.line)]
            for line in targets:
                if line is None:
                    issues.append(Issue("INVALID_VALUE", "no such line", Location(path=f"decisions[{n}].line")))
                elif line.decision != "pending" or line in touched:
                    raise ConflictError(f"line {line.line_no} is already {line.decision}")
                else:
                    line.decision = DECIDED[d.decision]
                    line.decision_reason = (d.reason or line.result) if d.decision == DISPUTE else d.reason
                    line.decided_by = principal.client_id[:64]
                    line.decided_at = now
                    touched.append(line)
        if issues:
            raise InputError(issues)
        repository.save(session, *touched)
        invoice.status = invoice_status(lines)
        invoice.updated_at = now
        repository.save(session, invoice)
        counts = Counter(line.decision for line in touched)
        detail: dict[str, str | int | bool] = {
            "approved": counts["approved"],
            "disputed": counts["disputed"],
            "status": invoice.status,
        }
        if touched:  # the provider is told (its webhooks); nothing settled, nothing to tell
            event = await invoice_events.record_decided(session, invoice, touched, lines, now)
            detail["event"] = invoice_events.wire_id(event.id or 0)
        await audit.append(session, gw.clock, principal, "invoice.decide", "invoice", invoice.id, "success", detail)
    return invoice, lines
