"""The status feed: a trust's lifecycle events after an opaque cursor, in event-id order, never another trust's.

Event ids come from a database sequence. On PostgreSQL a transaction can draw id 10, another draw id 11 and
commit first; a reader that moved its cursor past 11 would never see 10. So a page never goes past a gap in
the ids while the event after the gap is younger than `SETTLE`: the gap is a write still in flight, and the
feed waits for it. A gap older than that is an id whose transaction rolled back, and is passed over.
(SQLite runs one writer at a time, so it never leaves such gaps; the same code serves both.)
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.principal import READ, Principal, Role, require_role
from gateway.errors import InputError, Issue, Location
from gateway.limits import whole_number
from gateway.store import lifecycle_events
from gateway.store.tables import LifecycleEvent, Prescription

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
# Longer than any writing transaction takes from its clock reading to its commit, twice over.
SETTLE = timedelta(seconds=60)
# How many events (of every trust) one request looks through to place the horizon.
SCAN = 5000

_CURSOR = re.compile(r"v1:(0|[1-9][0-9]{0,17})")
_DELIVERY_KINDS = {f"delivery-{state}": state for state in lifecycle.DELIVERY_STATES}


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One entry of the feed: ids, codes and the gateway's own text; never patient data."""

    event_id: int
    at: datetime
    trust_ods: str
    rx_number: str
    rx_version: int
    short_form_id: str
    kind: str
    status_code: str | None
    status_display: str | None
    delivery_state: str | None
    provider_ods: str | None
    actor_ods: str | None
    message_id: str | None
    detail: str | None
    # Of a trust's prescription sent to EPS as several prescriptions (more than four items): which part this is.
    part: int = 1
    parts: int = 1

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "at": self.at.isoformat(),
            "trust_ods": self.trust_ods,
            "rx_number": self.rx_number,
            "rx_version": self.rx_version,
            "short_form_id": self.short_form_id,
            "kind": self.kind,
            "status": {"code": self.status_code, "display": self.status_display} if self.status_code else None,
            "delivery_state": self.delivery_state,
            "provider_ods": self.provider_ods,
            "actor_ods": self.actor_ods,
            "message_id": self.message_id,
            "detail": self.detail,
        }
        if self.parts > 1:
            out["part"] = {"number": self.part, "of": self.parts}
        return out


@dataclass(frozen=True, slots=True)
class FeedPage:
    """A page of the feed. Poll again with `next_cursor`, at once when `has_more`, else later."""

    trust_ods: str
    events: tuple[StatusEvent, ...]
    next_cursor: str
    has_more: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "trust_ods": self.trust_ods,
            "events": [e.as_dict() for e in self.events],
            "next_cursor": self.next_cursor,
            "has_more": self.has_more,
        }


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{event_id}".encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The event id a cursor stands for (0 for none: the beginning), or a located INVALID_CURSOR error."""
    if cursor is None or cursor == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _bad_cursor(cursor, "not a cursor of this feed") from exc
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise _bad_cursor(cursor, "not a cursor of this feed")
    return int(match.group(1))


def parse_limit(raw: str | None) -> int:
    """The page size from the query string: 1 to MAX_LIMIT, DEFAULT_LIMIT when absent."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    value = whole_number(raw)
    if value is None or not 1 <= value <= MAX_LIMIT:
        raise _bad_limit(raw)
    return value


def settled_horizon(after: int, positions: Sequence[tuple[int, datetime]], *, now: datetime, settle: timedelta) -> int:
    """The highest event id in `positions` (ids after `after`, ascending) that no later commit can precede.

    Walk up from `after`; stop before the first gap in the ids whose next event is younger than `settle`.
    """
    horizon = after
    for event_id, at in positions:
        if event_id != horizon + 1 and at > now - settle:
            break
        horizon = event_id
    return horizon


async def status_feed(
    gw: Gateway, principal: Principal, *, since: str | None, limit: int, settle: timedelta = SETTLE
) -> FeedPage:
    """The calling trust's events after the cursor `since`, oldest first, at most `limit` of them."""
    require_role(principal, Role.TRUST, scopes=READ)
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad_limit(str(limit))
    after = decode_cursor(since)
    now = gw.clock()
    async with gw.sessions() as session:
        if after and not await lifecycle_events.event_exists(session, after):
            raise _bad_cursor(since or "", "this cursor names no event of this gateway (was its store replaced?)")
        positions = await lifecycle_events.event_positions(session, after=after, limit=SCAN)
        horizon = settled_horizon(after, positions, now=now, settle=settle)
        rows = await lifecycle_events.trust_events(
            session, trust_ods=principal.ods, after=after, upto=horizon, limit=limit
        )
    events = tuple(status_event(event, prescription, status) for event, prescription, status in rows)
    full = len(events) == limit
    scanned_all = len(positions) == SCAN and horizon == positions[-1][0]
    return FeedPage(
        trust_ods=principal.ods,
        events=events,
        next_cursor=encode_cursor(events[-1].event_id if full else horizon),
        has_more=full or scanned_all,
    )


def status_event(event: LifecycleEvent, prescription: Prescription, status: str | None) -> StatusEvent:
    """One feed entry from a `lifecycle_events.trust_events` row (the webhooks send the same entries)."""
    return StatusEvent(
        event_id=event.id or 0,
        at=event.at,
        trust_ods=prescription.trust_ods,
        rx_number=prescription.rx_number,
        rx_version=prescription.rx_version,
        short_form_id=prescription.short_form_id,
        kind=event.kind,
        status_code=status,
        status_display=lifecycle.PRESCRIPTION_STATUS.get(status) if status else None,
        delivery_state=_DELIVERY_KINDS.get(event.kind),
        provider_ods=prescription.provider_ods,
        actor_ods=event.actor_ods,
        message_id=event.message_id,
        detail=event.detail,
        part=prescription.part,
        parts=prescription.parts,
    )


def _bad_limit(raw: str) -> InputError:
    return InputError(
        [
            Issue(
                code="INVALID_LIMIT",
                message="limit must be a whole number of events per page",
                location=Location(path="limit"),
                value=raw[:40],
                expected=f"an integer from 1 to {MAX_LIMIT}",
            )
        ]
    )


def _bad_cursor(cursor: str, why: str) -> InputError:
    return InputError(
        [
            Issue(
                code="INVALID_CURSOR",
                message=f"since: {why}; start again without `since`, or with a next_cursor this feed returned",
                location=Location(path="since"),
                value=cursor[:100],
                expected="a next_cursor value returned by GET /api/v1/status-feed",
            )
        ]
    )
