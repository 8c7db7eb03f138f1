"""The console's prescriptions for every organisation (docs/console.md, "One portal"): a trust's staff see their
trust's prescriptions across every provider, a provider's staff the orders routed to it, the gateway's operators
all of them, with each prescription's timeline.

Tenancy is the API's: the list is narrowed by `services.kpis.visible_scope`, one prescription is read through
`services.prescriptions.read_prescription` (another organisation's answers 404, as on the API). A trust's and a
provider's staff see their own patients' NHS numbers, each read audited (`patient-data.read`); for the gateway's
operators they are masked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from gateway import audit
from gateway.audit.actor import OperatorActor
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.errors import InputError, Issue, Location
from gateway.lifecycle.prescription_view import read_prescription, require_reader, view_json
from gateway.limits import parse_int
from gateway.safety.at_risk import nhs_numbers
from gateway.security.masking import MASK
from gateway.security.tenancy import visible_scope
from gateway.store import console as store
from gateway.store import provider_rows
from gateway.store.tables import Prescription

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What the list page asks for: a status (or every status), a page and its size."""

    status: str | None = None
    page: int = 1
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class PrescriptionRow:
    """One line of the list: ids, parties, status and times; the NHS number as shown (or the mask)."""

    short_form_id: str
    trust_ods: str
    provider_ods: str | None
    provider_name: str | None
    status: str
    status_display: str
    deliveries_made: int
    deliveries_authorised: int
    created_at: str
    updated_at: str
    nhs_number: str


@dataclass(frozen=True, slots=True)
class PrescriptionList:
    rows: list[PrescriptionRow]
    total: int
    query: ListQuery
    masked: bool

    @property
    def has_more(self) -> bool:
        return self.query.page * self.query.limit < self.total


def parse_query(status: str | None, page: str | None, limit: str | None) -> ListQuery:
    """The list's parameters, each refused with its own located error when it is not one the page offers."""
    chosen = (status or "").strip() or None
    if chosen is not None and chosen not in lifecycle.PRESCRIPTION_STATUS:
        issue = Issue(
            "INVALID_PARAMETER",
            "status is an EPS prescription status code",
            Location(path="status"),
            value=chosen[:40],
            expected=", ".join(lifecycle.PRESCRIPTION_STATUS),
        )
        raise InputError([issue])
    return ListQuery(
        status=chosen,
        page=parse_int(page, "page", 1, 1, MAX_PAGE),
        limit=parse_int(limit, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
    )


def is_tenant(actor: OperatorActor) -> bool:
    """A trust's or a provider's staff (they see their own patients), not the gateway's operators."""
    return actor.organisation_ods is not None


async def prescription_list(gw: Gateway, actor: OperatorActor, query: ListQuery) -> PrescriptionList:
    """The page of prescriptions `actor` may see, newest first."""
    require_reader(actor)
    scope = visible_scope(actor, None, None)
    tenant = is_tenant(actor)
    async with gw.sessions() as session, session.begin():
        found, total = await store.list_prescriptions(
            session,
            trust_ods=scope.trust_ods,
            provider_ods=scope.provider_ods,
            status=query.status,
            offset=(query.page - 1) * query.limit,
            limit=query.limit,
        )
        names = {p.ods: p.name for p in await provider_rows.list_providers(session)}
        patients = await asyncio.to_thread(nhs_numbers, gw, found) if tenant and found else {}
        if patients:
            detail: dict[str, str | int | bool] = {"rows": len(found), "page": query.page}
            ids = [p.id for p in found]
            entries = audit.Entry.batch(actor, "patient-data.read", "prescription", ids, "success", detail)
            await audit.append_many(session, gw.clock, entries)
    rows = [_row(p, names, patients.get(p.id, MASK)) for p in found]
    return PrescriptionList(rows, total, query, masked=not tenant)


def _row(p: Prescription, names: dict[str, str], nhs_number: str) -> PrescriptionRow:
    return PrescriptionRow(
        short_form_id=p.short_form_id,
        trust_ods=p.trust_ods,
        provider_ods=p.provider_ods,
        provider_name=names.get(p.provider_ods or ""),
        status=p.status,
        status_display=lifecycle.PRESCRIPTION_STATUS[p.status],
        deliveries_made=p.deliveries_made,
        deliveries_authorised=p.deliveries_authorised,
        created_at=p.created_at.isoformat(),
        updated_at=p.updated_at.isoformat(),
        nhs_number=nhs_number,
    )


async def prescription_detail(gw: Gateway, actor: OperatorActor, any_id: str) -> dict[str, Any]:
    """One prescription with its timeline, as `GET /api/v1/prescriptions/{id}` answers it, and its patient's NHS
    number (masked for the gateway's operators). Another organisation's prescription answers 404."""
    record = await read_prescription(gw, actor, any_id)  # tenancy, and the audited read
    view = view_json(record)
    if is_tenant(actor):
        numbers = await asyncio.to_thread(nhs_numbers, gw, [record.prescription])
        view["nhs_number"] = numbers.get(record.prescription.id, MASK)
    else:
        view["nhs_number"] = MASK
    return view
