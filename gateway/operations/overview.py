"""What operators do, for the console pages and the JSON operator API alike: the overview, the message browser,
replay, pause/resume, dead letters and the audit trail (one message's details: gateway.operations.message_view).

Every function takes the acting operator (a console session's OperatorActor or an OAuth operator client's
Principal) and checks its permission first (gateway.security.operators).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from gateway import audit
from gateway.context import Gateway
from gateway.delivery import queue as queue_service
from gateway.delivery import replay as replay_service
from gateway.domain.identifiers import is_valid_nhs_number
from gateway.domain.outbox import STATES, OutboxState, check_outbox_transition
from gateway.errors import ConflictError, InputError, Issue, Location, NotFoundError
from gateway.security.operators import OpsActor, Permission, require_permission
from gateway.store import alerts as alert_store
from gateway.store import console as store
from gateway.store import outbox_queue, provider_rows, repository, tallies
from gateway.store.tables import LifecycleEvent, OutboxEntry, Provider

WINDOW: Final = timedelta(hours=24)
PAGE_SIZES: Final = (25, 50, 100)
STATE_COLUMNS: Final = STATES


# --- overview ---


def _counts(
    states: dict[str, int], failing: int, recent: int, oldest: datetime | None, now: datetime
) -> dict[str, Any]:
    received = sum(states.values())
    delivered = sum(states.get(s, 0) for s in (OutboxState.LEASED, OutboxState.ACKNOWLEDGED, OutboxState.REJECTED))
    row: dict[str, Any] = {s: states.get(s, 0) for s in STATE_COLUMNS}
    failed = failing + states.get(OutboxState.REJECTED, 0)

    def rate(n: int) -> float | None:
        return round(100.0 * n / received, 1) if received else None

    row.update(
        received=received,
        received_24h=recent,
        delivered=delivered,
        failed=failed,
        dead_lettered=states.get(OutboxState.DEAD, 0),
        delivered_rate=rate(delivered),
        acknowledged_rate=rate(states.get(OutboxState.ACKNOWLEDGED, 0)),
        failure_rate=rate(failed + states.get(OutboxState.DEAD, 0)),
        oldest_waiting_seconds=int((now - oldest).total_seconds()) if oldest else None,
    )
    return row


async def overview(gw: Gateway, actor: OpsActor) -> dict[str, Any]:
    """Per provider and per trust: messages received, queued, leased, delivered, acknowledged, failed and
    dead-lettered, their rates, the oldest waiting message's age, and each provider's health."""
    require_permission(actor, Permission.VIEW)
    now = gw.clock()
    since = now - WINDOW
    async with gw.sessions() as session, session.begin():
        await tallies.compact(session)
    async with gw.sessions() as session:
        await tallies.one_snapshot(session)  # the tallies and the waiting messages as of one instant
        by_provider, by_trust = await store.outbox_groups(session, since)
        acks = await store.acknowledgement_times(session, since)
        providers = {p.ods: p for p in await provider_rows.list_providers(session)}
        rx_provider, rx_trust = await store.prescriptions_received(session, since)
    lags: dict[str, list[float]] = {}
    for ods, queued, acked in acks:
        lags.setdefault(ods, []).append((acked - queued).total_seconds())
    circuits = gw.telemetry.circuit_states()
    provider_summaries = []
    groups = {g.key: g for g in by_provider}
    for ods in sorted(set(groups) | set(providers)):
        g = groups.get(ods)
        row = (
            _counts(g.states, g.failing, g.received_since, g.oldest_waiting, now) if g else _counts({}, 0, 0, None, now)
        )
        p = providers.get(ods)
        lag = lags.get(ods, [])
        row.update(
            ods=ods,
            name=p.name if p else None,
            mode=p.mode if p else None,
            active=p.active if p else None,
            paused=p.paused if p else None,
            circuit=_circuit_of(p, circuits),
            last_poll_at=p.last_poll_at.isoformat() if p and p.last_poll_at else None,
            last_poll_seconds=int((now - p.last_poll_at).total_seconds()) if p and p.last_poll_at else None,
            ack_lag_avg_seconds=round(sum(lag) / len(lag), 1) if lag else None,
            ack_lag_max_seconds=round(max(lag), 1) if lag else None,
            prescriptions_received=rx_provider.get(ods, (0, 0))[0],
        )
        provider_summaries.append(row)
    trust_rows = []
    for g in by_trust:
        row = _counts(g.states, g.failing, g.received_since, g.oldest_waiting, now)
        row.update(ods=g.key, prescriptions_received=rx_trust.get(g.key, (0, 0))[0])
        trust_rows.append(row)
    held = rx_provider.get("(held)", (0, 0))[0]
    return {
        "generated_at": now.isoformat(),
        "window_hours": int(WINDOW.total_seconds() // 3600),
        "providers": provider_summaries,
        "trusts": trust_rows,
        "prescriptions_held": held,
    }


def _circuit_of(p: Provider | None, circuits: dict[str, str]) -> str:
    if p is None:
        return "unknown"
    if p.mode != "push":
        return "n/a (pull)"
    if p.endpoint and p.endpoint in circuits:
        return circuits[p.endpoint]
    return "closed"  # no request failed in this process yet


# --- the message browser ---


@dataclass(frozen=True, slots=True)
class BrowseQuery:
    """The browser's filters as typed in; `nhs_number` is turned into its blind index, never stored or logged."""

    date_from: datetime | None = None
    date_to: datetime | None = None
    state: str | None = None
    provider_ods: str | None = None
    trust_ods: str | None = None
    prescription_id: str | None = None
    nhs_number: str | None = None
    nhs_index: str | None = None
    error_class: str | None = None
    page: int = 1
    page_size: int = 50


def _bad(field: str, message: str, expected: str) -> InputError:
    return InputError([Issue("INVALID_VALUE", message, Location(column=field), expected=expected)])


def nhs_index_of(gw: Gateway, nhs_number: str) -> str:
    """The blind index of an NHS number typed by an operator (spaces and dashes allowed)."""
    digits = "".join(c for c in nhs_number if c not in " -")
    if not (len(digits) == 10 and digits.isdigit() and is_valid_nhs_number(digits)):
        raise _bad("nhs_number", "not a valid NHS number", "10 digits with a valid Modulus 11 check digit")
    return gw.cipher.blind_index(digits)


def _filter(gw: Gateway, q: BrowseQuery) -> store.MessageFilter:
    if q.state and q.state not in STATE_COLUMNS:
        raise _bad("state", "unknown message state", ", ".join(STATE_COLUMNS))
    if q.nhs_index is not None and not (len(q.nhs_index) == 64 and all(c in "0123456789abcdef" for c in q.nhs_index)):
        raise _bad("nhs_index", "not a blind index", "64 lowercase hex digits")
    if q.date_from and q.date_to and q.date_from >= q.date_to:
        raise _bad("date_to", "the range ends before it starts", "date_to after date_from")
    index = nhs_index_of(gw, q.nhs_number) if q.nhs_number else q.nhs_index
    return store.MessageFilter(
        date_from=q.date_from,
        date_to=q.date_to,
        state=q.state or None,
        provider_ods=(q.provider_ods or "").strip().upper() or None,
        trust_ods=(q.trust_ods or "").strip().upper() or None,
        prescription_id=(q.prescription_id or "").strip() or None,
        nhs_index=index,
        error_class=q.error_class or None,
    )


async def browse(gw: Gateway, actor: OpsActor, q: BrowseQuery) -> dict[str, Any]:
    """One page of messages matching the filters, newest first; ids and states only, no patient data."""
    require_permission(actor, Permission.VIEW)
    if q.page < 1:
        raise _bad("page", "pages count from 1", "an integer >= 1")
    if q.page_size not in PAGE_SIZES:
        raise _bad("page_size", "unsupported page size", ", ".join(map(str, PAGE_SIZES)))
    f = _filter(gw, q)
    async with gw.sessions() as session:
        total, rows = await store.browse_messages(session, f, offset=(q.page - 1) * q.page_size, limit=q.page_size)
        classes = await store.error_classes(session)
        trusts = await store.trusts_seen(session)
        providers = [p.ods for p in await provider_rows.list_providers(session)]
    return {
        "total": total,
        "page": q.page,
        "page_size": q.page_size,
        "pages": max(1, -(-total // q.page_size)),
        "nhs_index": f.nhs_index,
        "messages": [
            {
                "message_id": r.entry.message_id,
                "prescription_id": r.entry.prescription_id,
                "short_form_id": r.short_form_id,
                "rx_number": r.rx_number,
                "trust": r.trust_ods,
                "provider": r.entry.provider_ods,
                "state": r.entry.state,
                "attempts": r.entry.attempts,
                "last_outcome": r.last_outcome,
                "last_error": r.entry.last_error,
                "created_at": r.entry.created_at.isoformat(),
                "replayable": r.entry.state in replay_service.REPLAYABLE,
            }
            for r in rows
        ],
        "choices": {"states": list(STATE_COLUMNS), "error_classes": classes, "trusts": trusts, "providers": providers},
    }


# --- actions ---


async def replay(
    gw: Gateway,
    actor: OpsActor,
    *,
    message_id: str | None = None,
    state: str = OutboxState.DEAD,
    provider_ods: str | None = None,
    since: datetime | None = None,
    dry_run: bool = True,
) -> dict[str, Any]:
    """Replay one message or every matching one; `dry_run` (the default) only previews."""
    require_permission(actor, Permission.REPLAY)
    if message_id:
        report = await replay_service.replay_message(gw, message_id.strip().lower(), dry_run=dry_run, actor=actor)
    else:
        ods = (provider_ods or "").strip().upper() or None
        report = await replay_service.replay_matching(
            gw, state=state, provider_ods=ods, since=since, dry_run=dry_run, actor=actor
        )
    return report.as_json()


async def pause_provider(gw: Gateway, actor: OpsActor, provider_ods: str, paused: bool) -> Provider:
    """Hold (or resume) delivery to a provider (push and `$release`); its orders wait in the queue meanwhile."""
    require_permission(actor, Permission.PAUSE)
    return await queue_service.set_paused(gw, provider_ods, paused, actor=actor)


async def set_paused(gw: Gateway, actor: OpsActor, provider_ods: str, paused: bool) -> dict[str, Any]:
    provider = await pause_provider(gw, actor, provider_ods, paused)
    return {"provider": provider.ods, "paused": provider.paused, "mode": provider.mode}


async def dismiss_dead_letter(gw: Gateway, actor: OpsActor, message_id: str) -> dict[str, Any]:
    """Set a dead-lettered message aside (state `dismissed`): handled outside the gateway, never to be sent."""
    require_permission(actor, Permission.DEAD_LETTER)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        entry = await outbox_queue.outbox_by_message(session, message_id.strip().lower())
        if entry is None or entry.id is None:
            raise NotFoundError(f"message {message_id} not found")
        if entry.state != OutboxState.DEAD:
            raise ConflictError(f"message {entry.message_id} is {entry.state}: only dead letters are set aside")
        changed = await repository.apply_update(
            session,
            OutboxEntry,
            entry.id,
            {"state": entry.state, "lease_token": entry.lease_token},
            {
                "state": check_outbox_transition(entry.state, OutboxState.DISMISSED, entry=entry.message_id),
                "lease_expires_at": None,
            },
        )
        if not changed:
            raise ConflictError(f"message {entry.message_id} changed meanwhile; look again")
        repository.save(
            session,
            LifecycleEvent(
                prescription_id=entry.prescription_id,
                at=now,
                kind="dead-letter-dismissed",
                message_id=entry.message_id,
                detail="set aside by an operator: handled outside the gateway",
            )
        )
        await audit.append(
            session,
            gw.clock,
            actor,
            "operator.dead-letter",
            "message",
            entry.message_id,
            "success",
            {"change": "dismissed"},
        )
    return {"message_id": entry.message_id, "state": OutboxState.DISMISSED}


# --- the audit trail ---


async def audit_trail(
    gw: Gateway,
    actor: OpsActor,
    *,
    entity_id: str | None = None,
    actor_id: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> dict[str, Any]:
    """Audit records, newest first, for auditors; reading the trail is itself audited."""
    require_permission(actor, Permission.READ_AUDIT)
    if page < 1 or page_size not in PAGE_SIZES:
        raise _bad("page", "bad page or page size", f"page >= 1, page size one of {PAGE_SIZES}")
    await audit.sequence(gw, sign=False, wait=True)  # the trail up to now, not up to the last background run
    async with gw.sessions() as session, session.begin():
        total, rows = await store.audit_page(
            session,
            entity_id=entity_id or None,
            actor=actor_id or None,
            offset=(page - 1) * page_size,
            limit=page_size,
        )
        await audit.append(session, gw.clock, actor, "audit.read", "audit-trail", "page", "success", {"page": page})
    records = []
    for r in rows:
        detail = {}
        entities = json.loads(r.event_json).get("entity", [])
        for entity in entities:
            detail.update({d["type"]: d.get("valueString") for d in entity.get("detail", [])})
        records.append(
            {
                "seq": r.seq,
                "at": r.at.isoformat(),
                "actor": r.actor_client_id,
                "role": r.actor_role,
                "action": r.action,
                "entity_type": r.entity_type,
                "entity_id": r.entity_id,
                "entity_count": len(entities),  # a batch action (a release, acknowledgements) names several
                "outcome": r.outcome,
                "detail": detail,
            }
        )
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "pages": max(1, -(-total // page_size)),
        "records": records,
    }


async def open_alert_lines(gw: Gateway) -> list[str]:
    """One line per open alert (rule, provider and what was measured: no patient data), for the console banner."""
    async with gw.sessions() as session:
        return [a.summary for a in await alert_store.open_alerts(session)]
