"""Missed-dose KPIs of a month (docs/kpis.md, section 9): missed doses per 1,000 patient-months, by cause, per
provider, trust and both, and the share the at-risk list had flagged beforehand. Computed from what was recorded
before the end of `as_of`, so a month's figures as of a past day are the same however much is recorded later.
Tenancy as the other KPIs (`kpis.visible_scope`)."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gateway.audit.actor import Actor
from gateway.context import Gateway
from gateway.fhir.missed_dose_report import CAUSES
from gateway.kpis.monthly import ALL, Period
from gateway.safety.at_risk import cutoff_of
from gateway.security.tenancy import visible_scope
from gateway.store import missed_dose_kpis as store

CSV_COLUMNS = (
    "period",
    "level",
    "provider",
    "trust",
    "missed_doses",
    "patient_months",
    "per_1000_patient_months",
    "flagged",
    "flagged_share",
    *(f"cause_{c}" for c in CAUSES),
)


@dataclass
class _Cell:
    doses: int = 0
    flagged: int = 0
    causes: Counter[str] = field(default_factory=Counter)
    patients: set[str] = field(default_factory=set)


def _round(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class MissedDoseReport:
    period: Period
    as_of: date
    cells: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"period": self.period.label, "as_of": self.as_of.isoformat(), "cells": self.cells}

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for c in self.cells:
            writer.writerow(
                [
                    self.period.label,
                    c["level"],
                    "" if c["provider"] == ALL else c["provider"],
                    "" if c["trust"] == ALL else c["trust"],
                    c["missed_doses"],
                    c["patient_months"],
                    c["per_1000_patient_months"] or "",
                    c["flagged"],
                    c["flagged_share"] or "",
                    *(c["by_cause"].get(cause, 0) for cause in CAUSES),
                ]
            )
        return out.getvalue()


async def missed_dose_report(gw: Gateway, actor: Actor, *, period: Period, as_of: date) -> MissedDoseReport:
    scope = visible_scope(actor, None, None)
    cutoff = cutoff_of(gw, as_of)
    first, following = period.first_day, period.next_first_day
    async with gw.sessions() as session:
        doses = await store.missed_doses(session, first, following, cutoff, scope.trust_ods, scope.provider_ods)
        made = await store.supplies(session, first, following, cutoff, scope.trust_ods, scope.provider_ods)
    cells: dict[tuple[str, str], _Cell] = defaultdict(_Cell)
    cells[(ALL, ALL)] = _Cell()

    def keys(provider: str | None, trust: str) -> list[tuple[str, str]]:
        p = provider or "-"
        return [(ALL, ALL), (p, ALL), (ALL, trust), (p, trust)]

    for d in doses:
        for key in keys(d.provider_ods, d.trust_ods):
            cell = cells[key]
            cell.doses += 1
            cell.flagged += d.flagged
            cell.causes[d.cause] += 1
    for s in made:
        if s.delivered_on + timedelta(days=s.days_supply) <= first:
            continue  # that supply ran out before the month began
        for key in keys(s.provider_ods, s.trust_ods):
            cells[key].patients.add(s.nhs_index)
    out = []
    for (provider, trust), cell in sorted(cells.items(), key=lambda kv: (_level(*kv[0]), kv[0])):
        months = len(cell.patients)
        out.append(
            {
                "level": _level(provider, trust),
                "provider": provider,
                "trust": trust,
                "missed_doses": cell.doses,
                "patient_months": months,
                "per_1000_patient_months": _round(Decimal(cell.doses * 1000) / months) if months else None,
                "flagged": cell.flagged,
                "flagged_share": _round(Decimal(cell.flagged * 100) / cell.doses) if cell.doses else None,
                "by_cause": dict(sorted(cell.causes.items())),
            }
        )
    return MissedDoseReport(period, as_of, out)


def _level(provider: str, trust: str) -> str:
    if provider == ALL:
        return "all" if trust == ALL else "trust"
    return "provider" if trust == ALL else "provider-trust"
