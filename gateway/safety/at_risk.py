"""Patients at risk of a missed dose (docs/patient-safety.md): the worklist of `GET /api/v1/patients-at-risk`, the
console's "At risk" page and `hgw`'s watch.

A trust sees its own patients, a provider the patients of orders routed to it, an operator all. Trusts and
providers see the NHS number of their own patients; for operators it is masked unless an auditor unmasks it with a
reason, and every unmask is audited. The list is computed from what the store knew at the end of `as_of`, so a past
day's list is the same however much has happened since.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.audit.actor import Actor, OperatorActor
from gateway.context import Gateway
from gateway.domain.model import HomecarePrescription
from gateway.domain.principal import Principal, Role
from gateway.errors import InputError, Issue, Location
from gateway.fhir.datatypes import UK_TIME, uk_date
from gateway.limits import parse_int
from gateway.safety.supply_model import LAPSED_DAYS, AtRisk, Thresholds, at_risk
from gateway.security.masking import MASK, UNMASK_REASONS
from gateway.security.operators import Permission, require_permission
from gateway.security.tenancy import visible_scope
from gateway.store import prescription_rows, rollups, supply_facts
from gateway.store.sealed import prescription_context
from gateway.store.tables import Prescription

FORMATS = ("json", "csv")
CSV_COLUMNS = (
    "prescription",
    "trust",
    "provider",
    "supply_ends",
    "days_left",
    "reasons",
    "owner",
    "action",
    "nhs_number",
)


@dataclass(frozen=True, slots=True)
class Worklist:
    as_of: date
    rows: list[AtRisk]
    patients: dict[str, str]  # prescription id → NHS number as shown (or the mask)
    masked: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "masked": self.masked,
            "patients": [
                {
                    "prescription": r.short_form_id,
                    "trust": r.trust_ods,
                    "provider": r.provider_ods,
                    "supply_ends": r.supply_ends.isoformat(),
                    "days_left": r.days_left,
                    "reasons": list(r.reasons),
                    "owner": r.owner.value,
                    "action": r.action,
                    "nhs_number": self.patients.get(r.prescription_id, MASK),
                }
                for r in self.rows
            ],
        }

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for p in self.as_json()["patients"]:
            writer.writerow(
                [
                    p["prescription"],
                    p["trust"],
                    p["provider"] or "",
                    p["supply_ends"],
                    p["days_left"],
                    " ".join(p["reasons"]),
                    p["owner"],
                    p["action"],
                    p["nhs_number"],
                ]
            )
        return out.getvalue()


def _bad(path: str, message: str, value: str | None, expected: str) -> InputError:
    return InputError(
        [Issue(code="INVALID_PARAMETER", message=message, location=Location(path=path), value=value, expected=expected)]
    )


def parse_as_of(raw: str | None, now: datetime) -> date:
    """`YYYY-MM-DD` (default: today, UK); not a day still to come."""
    today = uk_date(now)
    if raw is None or raw.strip() == "":
        return today
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise _bad("as_of", "as_of is a calendar date", raw[:40], "YYYY-MM-DD, e.g. 2026-11-03") from None
    if len(raw.strip()) != 10:
        raise _bad("as_of", "as_of is a calendar date", raw[:40], "YYYY-MM-DD, e.g. 2026-11-03")
    if day > today:
        raise _bad("as_of", "that day has not come yet", raw, f"{today.isoformat()} or earlier")
    return day


def parse_format(raw: str | None) -> str:
    chosen = (raw or "json").strip().lower()
    if chosen not in FORMATS:
        raise _bad("format", "the format is json or csv", (raw or "")[:40], " or ".join(FORMATS))
    return chosen


def parse_days(raw: str | None) -> int | None:
    """The threshold in days for every service type (1 to 90); None: the configured thresholds."""
    return None if raw is None or raw.strip() == "" else parse_int(raw, "days", 7, 1, 90)


def thresholds(gw: Gateway) -> Thresholds:
    return Thresholds(gw.settings.risk_days, gw.settings.risk_thresholds)


def end_of(day: date) -> datetime:
    """The first instant after UK day `day`."""
    following = day + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=UK_TIME)


def cutoff_of(gw: Gateway, day: date) -> datetime:
    """What is counted for `day`: everything recorded before its end, or up to now (included) for today."""
    return min(gw.clock() + timedelta(microseconds=1), end_of(day))


def supply_window(day: date, limits: Thresholds, days: int | None) -> tuple[date, date]:
    """The days a treatment's supply must end on to be at risk on `day` under any of the thresholds
    (`gateway.safety.supply_model`: no more than the threshold ahead, no more than `LAPSED_DAYS` behind)."""
    ahead = days if days is not None else max([limits.default, *limits.by_service.values()])
    return day - timedelta(days=LAPSED_DAYS), day + timedelta(days=ahead)


async def compute(
    gw: Gateway, day: date, *, trust_ods: str | None = None, provider_ods: str | None = None, days: int | None = None
) -> list[AtRisk]:
    """The treatments at risk on `day` among those the filters allow, as the store knew them at the end of the
    day (or now, for today). No tenancy check: callers check first.

    When nothing was recorded after the cutoff (today's list), only the treatments whose rolled-up supply end falls
    in the window that can be at risk are read (`supply_window`); a past day with later records reads them all."""
    cutoff = cutoff_of(gw, day)
    limits = thresholds(gw)
    async with gw.sessions() as session:
        ending = None if await rollups.recorded_from(session, cutoff) else supply_window(day, limits, days)
        facts = await supply_facts.load(
            session, cutoff, trust_ods=trust_ods, provider_ods=provider_ods, supply_ending=ending
        )
    rows = await asyncio.to_thread(at_risk, facts, day, limits, days=days)
    if provider_ods is not None:
        rows = [r for r in rows if r.provider_ods == provider_ods]
    return rows


async def worklist(
    gw: Gateway,
    actor: Actor,
    *,
    as_of: date,
    days: int | None = None,
    trust_ods: str | None = None,
    provider_ods: str | None = None,
    unmask_reason: str | None = None,
) -> Worklist:
    """The at-risk list `actor` may see. Naming another tenant is refused (403)."""
    scope = visible_scope(actor, provider_ods, trust_ods)
    tenant = (isinstance(actor, Principal) and actor.role in (Role.TRUST, Role.PROVIDER)) or (
        isinstance(actor, OperatorActor) and actor.organisation_ods is not None
    )
    if unmask_reason is not None and not tenant:
        _check_unmask(actor, unmask_reason)
    rows = await compute(gw, as_of, trust_ods=scope.trust_ods, provider_ods=scope.provider_ods, days=days)
    unmasked = tenant or unmask_reason is not None
    patients: dict[str, str] = {}
    async with gw.sessions() as session, session.begin():
        if unmasked and rows:
            found = await _prescriptions(session, [r.prescription_id for r in rows])
            patients = await asyncio.to_thread(nhs_numbers, gw, found)
        detail: dict[str, str | int | bool] = {"as_of": as_of.isoformat(), "rows": len(rows)}
        if unmask_reason is not None and not tenant:
            detail["reason"] = unmask_reason
            await audit.append(
                session, gw.clock, actor, "patient-data.unmask", "at-risk-list", "patients", "success", detail
            )
        elif unmasked:
            await audit.append(
                session, gw.clock, actor, "patient-data.read", "at-risk-list", "patients", "success", detail
            )
    return Worklist(as_of, rows, patients, masked=not unmasked)


def _check_unmask(actor: Actor, reason: str) -> None:
    if isinstance(actor, (OperatorActor, Principal)):
        require_permission(actor, Permission.UNMASK)
    if reason not in UNMASK_REASONS:
        raise _bad("unmask", "unmasking needs one of the listed reasons", reason[:40], ", ".join(UNMASK_REASONS))


async def _prescriptions(session: AsyncSession, ids: list[str]) -> list[Prescription]:
    return await prescription_rows.prescriptions_by_id(session, ids)


def nhs_numbers(gw: Gateway, found: list[Prescription]) -> dict[str, str]:
    """Prescription id → its patient's NHS number, spaced 3-3-4, opened from the sealed prescription (CPU-bound:
    call it in a worker thread). For a tenant's own patients only: callers check and audit."""
    out = {}
    for rx in found:
        raw = gw.cipher.open(rx.canonical_enc, context=prescription_context(rx.id, rx.trust_ods))
        patient = HomecarePrescription.model_validate(json.loads(raw)).patient
        n = patient.nhs_number if patient else ""
        out[rx.id] = f"{n[:3]} {n[3:6]} {n[6:]}" if n else "—"
    return out
