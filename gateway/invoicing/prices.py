"""The trust–provider price list: what a trust pays a provider for each medicine (dm+d code) or service.

Loaded from CSV (`hgw prices import FILE`, `POST /api/v1/admin/prices`; layout in docs/invoicing.md) or JSON.
A file is taken whole or not at all: every problem is located (line, column) and nothing changes. A row with the
same trust, provider, code and `valid_from` as a stored one replaces it; periods of one code may not overlap.
Every load is audited (`price.change`). Reconciliation asks `in_force` for the entry of a delivery date.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from gateway import audit
from gateway.context import Gateway
from gateway.domain.identifiers import is_valid_ods_code
from gateway.domain.principal import Principal, Role, require_role
from gateway.errors import InputError, Issue, Location
from gateway.invoicing.csvtext import Row, cell_issue, read_rows
from gateway.invoicing.money import pence_or_none, pounds
from gateway.store import invoices, repository
from gateway.store.invoice_tables import PriceEntry

COLUMNS: Final = ("trust_ods", "provider_ods", "code", "kind", "unit_price", "valid_from")
OPTIONAL: Final = ("service_fee", "valid_to", "description")
KINDS: Final = ("medicine", "service")
MAX_CODE: Final = 40


@dataclass(frozen=True, slots=True)
class Price:
    """One price-list row, validated: money in whole pence."""

    trust_ods: str
    provider_ods: str
    code: str
    kind: str
    unit_price_pence: int
    service_fee_pence: int
    valid_from: date
    valid_to: date | None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def as_json(self) -> dict[str, Any]:
        return {
            "trust_ods": self.trust_ods,
            "provider_ods": self.provider_ods,
            "code": self.code,
            "kind": self.kind,
            "unit_price": pounds(self.unit_price_pence),
            "service_fee": pounds(self.service_fee_pence),
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
        }

    @classmethod
    def of(cls, row: PriceEntry) -> Price:
        return cls(
            row.trust_ods,
            row.provider_ods,
            row.code,
            row.kind,
            row.unit_price_pence,
            row.service_fee_pence,
            row.valid_from,
            row.valid_to,
        )


def in_force(prices: Iterable[Price], code: str, day: date) -> Price | None:
    """The entry for `code` in force on `day` (periods do not overlap, so there is at most one)."""
    return next((p for p in prices if p.code == code and p.covers(day)), None)


def _day(row: Row, column: str, issues: list[Issue], *, required: bool) -> date | None:
    text = row.get(column)
    if not text and not required:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        issues.append(cell_issue(row, column, "INVALID_DATE", "not a date", "YYYY-MM-DD"))
        return None


def parse_row(row: Row) -> tuple[Price | None, list[Issue]]:
    """One CSV (or JSON) row as a Price, or the located problems with it."""
    issues: list[Issue] = []
    for column in ("trust_ods", "provider_ods"):
        if not is_valid_ods_code(row.get(column).upper()):
            issues.append(
                cell_issue(row, column, "INVALID_ODS_CODE", "not an ODS code", "3, 5 or 6 letters and digits")
            )
    code = row.get("code")
    if not code or len(code) > MAX_CODE or any(c.isspace() for c in code):
        issues.append(cell_issue(row, "code", "INVALID_VALUE", "not a code", "a dm+d code or a service code"))
    kind = row.get("kind").lower()
    if kind not in KINDS:
        issues.append(cell_issue(row, "kind", "INVALID_VALUE", "unknown kind of line", "medicine or service"))
    unit = pence_or_none(row.get("unit_price"))
    if unit is None:
        issues.append(cell_issue(row, "unit_price", "INVALID_AMOUNT", "not an amount", "pounds, e.g. 125.50"))
    fee = pence_or_none(row.get("service_fee") or "0")
    if fee is None:
        issues.append(cell_issue(row, "service_fee", "INVALID_AMOUNT", "not an amount", "pounds, e.g. 4.00"))
    start = _day(row, "valid_from", issues, required=True)
    end = _day(row, "valid_to", issues, required=False)
    if start and end and end < start:
        issues.append(cell_issue(row, "valid_to", "INVALID_PERIOD", "ends before it starts", "on or after valid_from"))
    if issues or unit is None or fee is None or start is None:
        return None, issues
    return Price(row.get("trust_ods").upper(), row.get("provider_ods").upper(), code, kind, unit, fee, start, end), []


def parse_price_csv(payload: bytes) -> list[tuple[int, Price]]:
    """(line, Price) for every row of a price-list CSV; InputError with every problem located."""
    rows = read_rows(payload, COLUMNS, OPTIONAL)
    return _parsed(rows)


def parse_price_json(entries: Sequence[dict[str, Any]]) -> list[tuple[int, Price]]:
    """The same from JSON objects (the admin API); `line` is the 1-based index in the list."""
    rows = [Row(n, {k: "" if v is None else str(v) for k, v in e.items()}) for n, e in enumerate(entries, 1)]
    return _parsed(rows)


def _parsed(rows: list[Row]) -> list[tuple[int, Price]]:
    issues: list[Issue] = []
    out: list[tuple[int, Price]] = []
    for row in rows:
        price, problems = parse_row(row)
        issues += problems
        if price is not None:
            out.append((row.line, price))
    issues += _overlaps(out)
    if issues:
        raise InputError(issues)
    if not out:
        raise InputError([Issue("EMPTY_FILE", "no prices in the file", Location(line=1))])
    return out


def _overlaps(entries: Sequence[tuple[int, Price]]) -> list[Issue]:
    """Two periods of one trust, provider and code that overlap (the later line is named)."""
    issues = []
    for i, (line, p) in enumerate(entries):
        for _, q in entries[:i]:
            if (p.trust_ods, p.provider_ods, p.code) == (q.trust_ods, q.provider_ods, q.code) and _overlap(p, q):
                issues.append(
                    Issue(
                        "OVERLAPPING_PERIOD",
                        f"{p.code} already has a price from {q.valid_from} for this trust and provider",
                        Location(line=line, column="valid_from"),
                        value=p.valid_from.isoformat(),
                        expected="periods of one code that do not overlap",
                    )
                )
    return issues


def _overlap(p: Price, q: Price) -> bool:
    if p.valid_from == q.valid_from:
        return True
    p_end, q_end = p.valid_to or date.max, q.valid_to or date.max
    return p.valid_from <= q_end and q.valid_from <= p_end


@dataclass(frozen=True, slots=True)
class LoadReport:
    added: int
    replaced: int
    unchanged: int

    def as_json(self) -> dict[str, int]:
        return {"added": self.added, "replaced": self.replaced, "unchanged": self.unchanged}


async def load_prices(
    gw: Gateway, entries: list[tuple[int, Price]], *, actor: audit.Actor = audit.SYSTEM
) -> LoadReport:
    """Store parsed entries in one transaction, audited; refused whole when one overlaps a stored period."""
    if isinstance(actor, Principal):
        require_role(actor, Role.OPERATOR, scopes=("operations",))
    added = replaced = unchanged = 0
    async with gw.sessions() as session, session.begin():
        pairs = {(p.trust_ods, p.provider_ods) for _, p in entries}
        stored = await invoices.prices_of_providers(session, {pr for _, pr in pairs})
        by_start = {(s.trust_ods, s.provider_ods, s.code, s.valid_from): s for s in stored}
        issues = []
        for line, p in entries:
            for s in stored:
                same_code = (s.trust_ods, s.provider_ods, s.code) == (p.trust_ods, p.provider_ods, p.code)
                if same_code and s.valid_from != p.valid_from and _overlap(p, Price.of(s)):
                    issues.append(
                        Issue(
                            "OVERLAPPING_PERIOD",
                            f"{p.code} has a stored price from {s.valid_from} that this period overlaps",
                            Location(line=line, column="valid_from"),
                            value=p.valid_from.isoformat(),
                            expected="a period that does not overlap a stored one (or the same valid_from)",
                        )
                    )
        if issues:
            raise InputError(issues)
        now = gw.clock()
        for _, p in entries:
            old = by_start.get((p.trust_ods, p.provider_ods, p.code, p.valid_from))
            if old is None:
                repository.save(session, PriceEntry(**_columns(p), created_at=now))
                added += 1
            elif Price.of(old) == p:
                unchanged += 1
            else:
                for name, value in _columns(p).items():
                    setattr(old, name, value)
                repository.save(session, old)
                replaced += 1
        for trust_ods, provider_ods in sorted(pairs):
            detail: dict[str, str | int | bool] = {
                "added": added,
                "replaced": replaced,
                "unchanged": unchanged,
                "trust": trust_ods,
            }
            await audit.append(session, gw.clock, actor, "price.change", "price-list", provider_ods, "success", detail)
    return LoadReport(added, replaced, unchanged)


def _columns(p: Price) -> dict[str, Any]:
    return {
        "trust_ods": p.trust_ods,
        "provider_ods": p.provider_ods,
        "code": p.code,
        "kind": p.kind,
        "unit_price_pence": p.unit_price_pence,
        "service_fee_pence": p.service_fee_pence,
        "valid_from": p.valid_from,
        "valid_to": p.valid_to,
    }


async def import_price_csv(gw: Gateway, payload: bytes, *, actor: audit.Actor = audit.SYSTEM) -> LoadReport:
    """Parse (in a worker thread) and load a price-list CSV."""
    entries = await asyncio.to_thread(parse_price_csv, payload)
    return await load_prices(gw, entries, actor=actor)


async def price_list(gw: Gateway, trust_ods: str, provider_ods: str) -> list[Price]:
    """Every entry of one trust–provider price list, oldest period first."""
    async with gw.sessions() as session:
        rows = await invoices.price_list(session, trust_ods, provider_ods)
    return [Price.of(r) for r in rows]


async def list_prices(
    gw: Gateway, principal: audit.Actor, *, trust_ods: str | None = None, provider_ods: str | None = None
) -> list[Price]:
    """Price entries the caller may see: an operator all, a trust its own, a provider its own."""
    if isinstance(principal, Principal):
        if principal.role is Role.TRUST:
            trust_ods = principal.ods
        elif principal.role is Role.PROVIDER:
            provider_ods = principal.ods
        else:
            require_role(principal, Role.OPERATOR)
    async with gw.sessions() as session:
        rows = await invoices.list_prices(session, trust_ods=trust_ods, provider_ods=provider_ods)
    return [Price.of(r) for r in rows]
