"""What a prescription's supply adds up to: `lifecycle.settle` applied to the stored prescription and its items."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import states as lifecycle
from gateway.errors import ConflictError
from gateway.store import prescription_rows, repository
from gateway.store.tables import DispenseRecord, Prescription, PrescriptionItem

ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class Change:
    """The prescription's status before and after, and each line item that changed: (line, before, after)."""

    before: str
    after: str
    lines: list[tuple[int, str, str]] = field(default_factory=list)

    def describe(self) -> str:
        """`0002 → 0003; line 1 0008 → 0003`, or an empty string when nothing changed."""
        parts = [f"{self.before} → {self.after}"] if self.before != self.after else []
        parts += [f"line {n} {a} → {b}" for n, a, b in self.lines]
        return "; ".join(parts)


def active_lines(records: Sequence[DispenseRecord]) -> list[dict[str, str]]:
    """The line statuses of the notifications that still count, oldest first."""
    return [json.loads(r.lines) for r in records if r.state == ACTIVE]


def settle_lines(items: Sequence[PrescriptionItem]) -> list[lifecycle.Line]:
    return [lifecycle.Line(i.id, i.deliveries_authorised) for i in items]


async def resettle(
    session: AsyncSession,
    p: Prescription,
    notifications: Sequence[Mapping[str, str]],
    *,
    correction: bool = False,
) -> Change:
    """Settle `p` from `notifications` and its deliveries made; refuse (changing nothing) a move the tables do not
    allow, else store the new statuses in the session."""
    items = await prescription_rows.prescription_items(session, p.id)
    settled = lifecycle.settle(settle_lines(items), notifications, p.deliveries_made)
    lifecycle.check_settled(p.status, {i.id: i.status for i in items}, settled, correction=correction)
    changed = []
    for item in items:
        target = settled.items[item.id]
        if target != item.status:
            changed.append((item.line_no, item.status, target))
            item.status = target
            repository.save(session, item)
    before = p.status
    p.status = settled.status
    repository.save(session, p)
    return Change(before, settled.status, changed)


async def flush_or_conflict(session: AsyncSession, what: str) -> None:
    """Flush now, so that a concurrent writer's unique row answers 409 rather than failing the commit."""
    try:
        await repository.save_now(session)
    except IntegrityError as exc:
        raise ConflictError(f"{what} changed meanwhile; send it again") from exc
