"""Spend: what trusts pay providers, per trust, provider, medicine (dm+d) or service, and month.

Spend is the approved lines (net and VAT); disputed and pending lines are shown apart, and volume is the quantity
approved. Medicines and services are separate rows (`kind`). The month is the delivery's UK month (else the
invoice's). Nothing here names a patient or a prescription, so the `publication` form is fit to publish: rows of
fewer than `SMALL` approved lines are merged into one `other` row per trust, provider, month and kind.
"""

from __future__ import annotations

import asyncio
import calendar
import csv
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final

from gateway.context import Gateway
from gateway.domain.principal import READ, UPDATE, Principal, Role, require_role
from gateway.errors import InputError, Issue, Location
from gateway.invoicing.fhir_invoice import SERVICE_CODES, SNOMED
from gateway.invoicing.money import plain, pounds
from gateway.kpis.monthly import parse_ods
from gateway.store import invoices as store

SMALL: Final = 5
MONTH: Final = re.compile(r"(20\d\d)-(0[1-9]|1[0-2])")
FORMATS: Final = ("json", "csv", "fhir")
CSV_COLUMNS: Final = (
    "trust",
    "provider",
    "month",
    "kind",
    "code",
    "lines",
    "volume",
    "net",
    "vat",
    "total",
    "disputed",
    "pending",
)


@dataclass
class SpendRow:
    trust: str
    provider: str
    month: str
    kind: str
    code: str
    lines: int = 0
    volume: Decimal = Decimal(0)
    net_pence: int = 0
    vat_pence: int = 0
    disputed_pence: int = 0
    pending_pence: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "trust": self.trust,
            "provider": self.provider,
            "month": self.month,
            "kind": self.kind,
            "code": self.code,
            "lines": self.lines,
            "volume": plain(self.volume),
            "net": pounds(self.net_pence),
            "vat": pounds(self.vat_pence),
            "total": pounds(self.net_pence + self.vat_pence),
            "disputed": pounds(self.disputed_pence),
            "pending": pounds(self.pending_pence),
        }


@dataclass(frozen=True)
class SpendReport:
    month_from: str
    month_to: str
    rows: list[SpendRow] = field(default_factory=list)
    publication: bool = False

    def totals(self) -> dict[str, str]:
        net = sum(r.net_pence for r in self.rows)
        vat = sum(r.vat_pence for r in self.rows)
        by_kind = {k: sum(r.net_pence + r.vat_pence for r in self.rows if r.kind == k) for k in ("medicine", "service")}
        return {
            "net": pounds(net),
            "vat": pounds(vat),
            "total": pounds(net + vat),
            "medicines": pounds(by_kind["medicine"]),
            "services": pounds(by_kind["service"]),
            "disputed": pounds(sum(r.disputed_pence for r in self.rows)),
            "pending": pounds(sum(r.pending_pence for r in self.rows)),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.month_from,
            "to": self.month_to,
            "publication": self.publication,
            "totals": self.totals(),
            "rows": [r.as_json() for r in self.rows],
        }


def parse_month(raw: str | None, path: str, default: str) -> str:
    if raw is None or raw.strip() == "":
        return default
    if not MONTH.fullmatch(raw.strip()):
        where = Location(path=path)
        raise InputError([Issue("INVALID_VALUE", "not a month", where, value=raw[:20], expected="YYYY-MM")])
    return raw.strip()


def spend_format(raw: str | None) -> str:
    chosen = (raw or "json").strip().lower()
    if chosen not in FORMATS:
        where = Location(path="format")
        raise InputError(
            [Issue("INVALID_VALUE", "unknown format", where, value=chosen[:20], expected="json, csv or fhir")]
        )
    return chosen


def aggregate(lines: Iterable[Any], *, publication: bool = False) -> list[SpendRow]:
    """Rows from (trust, provider, month, kind, code, decision, quantity, net, vat) tuples, sorted."""
    rows: dict[tuple[str, str, str, str, str], SpendRow] = {}
    for trust, provider, month, kind, code, decision, quantity, net, vat in lines:
        row = rows.setdefault((trust, provider, month, kind, code), SpendRow(trust, provider, month, kind, code))
        if decision == "approved":
            row.lines += 1
            row.volume += Decimal(quantity)
            row.net_pence += net
            row.vat_pence += vat
        elif decision == "disputed":
            row.disputed_pence += net + vat
        else:
            row.pending_pence += net + vat
    out = sorted(rows.values(), key=lambda r: (r.trust, r.provider, r.month, r.kind, r.code))
    return _suppressed(out) if publication else out


def _suppressed(rows: list[SpendRow]) -> list[SpendRow]:
    """Small rows merged into `other` (per trust, provider, month and kind), so no row singles out a few patients."""
    kept: list[SpendRow] = []
    other: dict[tuple[str, str, str, str], SpendRow] = {}
    for r in rows:
        if r.lines >= SMALL:
            kept.append(r)
            continue
        o = other.setdefault(
            (r.trust, r.provider, r.month, r.kind),
            replace(
                r, code="other", lines=0, volume=Decimal(0), net_pence=0, vat_pence=0, disputed_pence=0, pending_pence=0
            ),
        )
        o.lines += r.lines
        o.net_pence += r.net_pence
        o.vat_pence += r.vat_pence
        o.disputed_pence += r.disputed_pence
        o.pending_pence += r.pending_pence
    # Volume of merged rows mixes units of different medicines: it is not shown.
    return sorted(kept + list(other.values()), key=lambda r: (r.trust, r.provider, r.month, r.kind, r.code))


async def build_spend(
    gw: Gateway,
    principal: Principal | None,
    *,
    month_from: str,
    month_to: str,
    trust_ods: str | None = None,
    provider_ods: str | None = None,
    publication: bool = False,
) -> SpendReport:
    """Spend over [month_from, month_to]. A trust sees its own, a provider its own, operators and the command
    line (principal None) all."""
    if principal is not None:
        if principal.role is Role.PROVIDER:
            require_role(principal, Role.PROVIDER, scopes=UPDATE)
            provider_ods = principal.ods
        else:
            require_role(principal, Role.TRUST, Role.OPERATOR, scopes=READ)
            if principal.role is Role.TRUST:
                trust_ods = principal.ods
    if month_to < month_from:
        where = Location(path="to")
        raise InputError(
            [Issue("INVALID_PERIOD", "ends before it starts", where, value=month_to, expected=f">= {month_from}")]
        )
    async with gw.sessions() as session:
        lines = await store.spend_lines(
            session, month_from=month_from, month_to=month_to, trust_ods=trust_ods, provider_ods=provider_ods
        )
    rows = await asyncio.to_thread(aggregate, lines, publication=publication)
    return SpendReport(month_from, month_to, rows, publication)


async def spend_request(
    gw: Gateway,
    principal: Principal | None,
    raw: dict[str, str | None],
    *,
    publication: bool = False,
    names: tuple[str, str] = ("from", "to"),
) -> SpendReport:
    """`build_spend` from the request's text (`from`, `to`, `trust`, `provider`; `names` locates the months'
    errors: query parameters or command-line flags), each checked with a located error."""
    start = parse_month(raw.get("from"), names[0], gw.clock().strftime("%Y-%m"))
    return await build_spend(
        gw,
        principal,
        month_from=start,
        month_to=parse_month(raw.get("to"), names[1], start),
        trust_ods=parse_ods(raw.get("trust"), "trust"),
        provider_ods=parse_ods(raw.get("provider"), "provider"),
        publication=publication,
    )


def render_csv(report: SpendReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in report.rows:
        j = r.as_json()
        writer.writerow([j[c] for c in CSV_COLUMNS])
    return out.getvalue().encode()


MEASURE: Final = "https://fhir.homecaregateway.uk/Measure/hgw-homecare-spend"
GBP: Final = {"system": "urn:iso:std:iso:4217", "code": "GBP", "unit": "GBP"}


def render_fhir(report: SpendReport) -> dict[str, Any]:
    """A Bundle of summary MeasureReports, one per trust, provider and month, a group per medicine or service
    whose score is the approved spend (net + VAT) in pounds and whose population counts the approved lines."""
    groups: dict[tuple[str, str, str], list[SpendRow]] = {}
    for r in report.rows:
        groups.setdefault((r.trust, r.provider, r.month), []).append(r)
    entries = []
    for (trust, provider, month), rows in groups.items():
        entries.append(
            {
                "resource": {
                    "resourceType": "MeasureReport",
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{MEASURE}|{trust}|{provider}|{month}")),
                    "status": "complete",
                    "type": "summary",
                    "measure": MEASURE,
                    "subject": {
                        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": trust}
                    },
                    "reporter": {
                        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": provider}
                    },
                    "period": {"start": f"{month}-01", "end": _month_end(month)},
                    "group": [
                        {
                            "code": {"coding": [{"system": _code_system(r.kind), "code": r.code}], "text": r.kind},
                            "population": [
                                {
                                    "code": {
                                        "coding": [
                                            {
                                                "system": "http://terminology.hl7.org/CodeSystem/measure-population",
                                                "code": "initial-population",
                                            }
                                        ]
                                    },
                                    "count": r.lines,
                                }
                            ],
                            "measureScore": _gbp(r.net_pence + r.vat_pence),
                        }
                        for r in rows
                    ],
                }
            }
        )
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection", "entry": entries}


def _gbp(pence: int) -> dict[str, Any]:
    return {"value": Decimal(pounds(pence)), **GBP}


def _code_system(kind: str) -> str:
    return SNOMED if kind == "medicine" else SERVICE_CODES


def _month_end(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{month}-{calendar.monthrange(year, mon)[1]:02d}"
