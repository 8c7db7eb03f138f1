"""The KPIs' and the at-risk list's roll-ups (migration 0024's triggers, `gateway.store.rollups`) give the same answers
as the from-scratch computation over the timeline, whatever writes happen, on SQLite and PostgreSQL: new
prescriptions, acknowledgements, cancellations and rejections, amendments (a new version, the old one cancelled),
deliveries made and made again at another time, deliveries booked, dispatched, failed and returned, expiries,
re-routings and holds, several rows per statement."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import and_, exists, func, insert, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import states as lifecycle
from gateway.safety.at_risk import supply_window
from gateway.safety.supply_model import Thresholds, at_risk
from gateway.store import kpis, rollups, supply_facts, supply_kpis
from gateway.store.columns import UTCDateTime
from gateway.store.rollup_tables import TreatmentRollup
from gateway.store.supply_tables import SupplyChange
from gateway.store.tables import Delivery, InboundPayload, LifecycleEvent, Prescription, PrescriptionItem
from tests.integration.test_overview_tallies import _chosen, _x

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
PROVIDERS = ("PA", "PB")
TRUSTS = ("T1", "T2")
P: Any = Prescription.__table__  # type: ignore[attr-defined]
ITEM: Any = PrescriptionItem.__table__  # type: ignore[attr-defined]
EV: Any = LifecycleEvent.__table__  # type: ignore[attr-defined]
DL: Any = Delivery.__table__  # type: ignore[attr-defined]
SC: Any = SupplyChange.__table__  # type: ignore[attr-defined]
IN: Any = InboundPayload.__table__  # type: ignore[attr-defined]

pick = st.integers(0, 1_000)
hour = st.integers(-24 * 60, 24 * 20)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 3), st.integers(0, 3), st.sampled_from(PROVIDERS),
                  st.sampled_from(TRUSTS), st.sampled_from(("M1", "M2")), hour),
        st.tuples(st.just("event"), pick, st.integers(1, 3),
                  st.sampled_from(("acknowledged", "cancelled", "provider-rejected", "queued", "expired")), hour),
        st.tuples(st.just("deliver"), pick, st.integers(1, 3), hour, st.integers(0, 40)),
        st.tuples(st.just("report"), pick, st.integers(1, 2), st.integers(1, 3),
                  st.sampled_from(("scheduled", "dispatched", "failed", "returned")), hour, st.integers(-5, 45)),
        st.tuples(st.just("redeliver"), pick, hour),
        st.tuples(st.just("reroute"), pick, st.integers(1, 2), st.sampled_from(PROVIDERS)),
        st.tuples(st.just("hold"), pick),
        st.tuples(st.just("amend"), pick, hour),
    ),
    max_size=30,
)


def _rx(patient: int, provider: str | None, trust: str, at: datetime, number: str, version: int) -> dict[str, Any]:
    rx = str(uuid.uuid4())
    return dict(id=rx, short_form_id=rx[:20], trust_ods=trust, rx_number=number, rx_version=version, action="NEW",
                status="0001", provider_ods=provider, nhs_index=f"patient-{patient}", canonical_enc=b"x",
                content_sha256="0" * 64, inbound_id=None, deliveries_authorised=3, deliveries_made=0,
                created_at=at, updated_at=at, service_type="delivery-only")


async def _add(session: AsyncSession, rows: list[dict[str, Any]], medicine: str) -> None:
    inbound = str(uuid.uuid4())
    await _x(session, insert(IN).values(id=inbound, format="jac", content_type="text/csv", sha256="0" * 64, size=1,
                                        body_enc=b"x", received_at=NOW, outcome="accepted"))
    for row in rows:
        row["inbound_id"] = inbound
    await _x(session, insert(P), rows)  # several rows in one statement
    await _x(session, insert(ITEM), [
        dict(id=str(uuid.uuid4()), prescription_id=r["id"], line_no=1, dmd_code=medicine, description="m",
             quantity="1", quantity_unit="dose", days_per_delivery=28, deliveries_authorised=3, status="0007")
        for r in rows
    ])
    await _x(session, insert(SC), [
        dict(prescription_id=r["id"], at=r["created_at"], kind="prescribed", delivery_number=0,
             scheduled_date=(r["created_at"] + timedelta(days=3)).date(), days_supply=28) for r in rows
    ])


async def _event(session: AsyncSession, ids: list[str], kind: str, at: datetime) -> None:
    await _x(session, insert(EV), [dict(prescription_id=i, at=at, kind=kind, detail=kind) for i in ids])


async def _apply(session: AsyncSession, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "add":
        n, patient, provider, trust, medicine, h = op[1:]
        at = NOW + timedelta(hours=h)
        await _add(session, [_rx(patient + k, provider, trust, at, str(uuid.uuid4())[:8], 1) for k in range(n)],
                   medicine)
    elif kind == "event":
        await _event(session, await _chosen(session, P, op[1], op[2]), op[3], NOW + timedelta(hours=op[4]))
    elif kind == "deliver":
        for rx in await _chosen(session, P, op[1], 1):
            at = NOW + timedelta(hours=op[3])
            number = op[2]
            found = (await _x(session, select(DL.c.id).where(DL.c.prescription_id == rx, DL.c.number == number)))
            if found.first() is None:
                await _x(session, insert(DL).values(prescription_id=rx, number=number, state="delivered",
                                                    scheduled_date=at.date(), updated_at=at, delivered_at=at))
            else:
                await _x(session, update(DL).where(DL.c.prescription_id == rx, DL.c.number == number).values(
                    state="delivered", delivered_at=at, updated_at=at))
            await _x(session, update(P).where(P.c.id == rx).values(supply_until=at.date() + timedelta(days=op[4])))
            await _x(session, insert(SC).values(prescription_id=rx, at=at, kind="delivered", delivery_number=number,
                                                scheduled_date=at.date(), delivered_on=at.date(), days_supply=op[4]))
    elif kind == "report":  # a provider's report on a delivery not made (booked, in transit, failed, returned)
        number, state, h, days = op[3:]
        at = NOW + timedelta(hours=h)
        await _x(session, insert(SC), [
            dict(prescription_id=rx, at=at, kind=state, delivery_number=number,
                 scheduled_date=(at + timedelta(days=days)).date())
            for rx in await _chosen(session, P, op[1], op[2])
        ])
    elif kind == "redeliver":  # a delivery time changed once set: rolled up again from the rows
        for d in await _chosen(session, DL, op[1], 2):
            await _x(session, update(DL).where(DL.c.id == d).values(delivered_at=NOW + timedelta(hours=op[2])))
    elif kind == "reroute":
        await _x(session, update(P).where(P.c.id.in_(await _chosen(session, P, op[1], op[2]))).values(
            provider_ods=op[3]))
    elif kind == "hold":
        await _x(session, update(P).where(P.c.id.in_(await _chosen(session, P, op[1], 1))).values(provider_ods=None))
    else:  # amend: the next version replaces the latest one, which is cancelled
        for rx in await _chosen(session, P, op[1], 1):
            old = (await _x(session, select(P).where(P.c.id == rx))).mappings().one()
            medicine = (await _x(session, select(ITEM.c.dmd_code).where(ITEM.c.prescription_id == rx))).scalar()
            at = NOW + timedelta(hours=op[2])
            number, version = old["rx_number"], old["rx_version"]
            latest = (await _x(session, select(func.max(P.c.rx_version)).where(P.c.rx_number == number))).scalar()
            await _add(session, [_rx(int(old["nhs_index"].split("-")[1]), old["provider_ods"], old["trust_ods"], at,
                                     number, max(version, latest) + 1)], medicine)
            await _x(session, update(P).where(P.c.id == rx).values(status=lifecycle.CANCELLED))
            await _event(session, [rx], "cancelled", at)


async def _supplies_ending_from_scratch(session: AsyncSession, scope: kpis.Scope, first: date,
                                        last: date) -> list[supply_kpis.SupplyAtRisk]:
    """`supply_kpis.supplies_ending` as it was before the index-driven rewrite: every prescription grouped by pair."""
    Rx: Any = Prescription
    Dv: Any = Delivery
    p = aliased(Rx)
    pairs = (
        select(p.nhs_index, p.provider_ods, func.max(p.supply_until).label("supply_until"),
               type_coerce(func.max(p.created_at), UTCDateTime()).label("latest_at"))
        .where(*kpis.Scope(provider_ods=scope.provider_ods).where(p))
        .group_by(p.nhs_index, p.provider_ods)
        .having(and_(func.max(p.supply_until) >= first, func.max(p.supply_until) <= last))
        .subquery("pairs")
    )

    def same(q: Any) -> Any:
        return and_(q.nhs_index == pairs.c.nhs_index, q.provider_ods == pairs.c.provider_ods)

    r, s, t, u = (aliased(Rx) for _ in range(4))
    trust = select(func.min(r.trust_ods)).where(same(r), r.supply_until == pairs.c.supply_until)
    stopped = exists().where(same(s), s.created_at == pairs.c.latest_at, s.status == lifecycle.CANCELLED)
    booked = exists().where(same(t), Dv.prescription_id == t.id, or_(
        Dv.state == "dispatched", and_(Dv.state == "scheduled", Dv.scheduled_date <= pairs.c.supply_until)))
    follows = exists().where(same(u), u.status.in_(kpis.LIVE), u.deliveries_made < u.deliveries_authorised)
    stmt = select(pairs.c.provider_ods, trust.scalar_subquery(), pairs.c.supply_until, stopped, booked, follows)
    rows = (await session.exec(stmt)).all()  # type: ignore[call-overload]
    found = [supply_kpis.SupplyAtRisk(str(a), str(b), c, bool(d), bool(e), bool(f)) for a, b, c, d, e, f in rows]
    return [f for f in found if scope.trust_ods is None or f.trust_ods == scope.trust_ods]


async def _treatments_from_scratch(session: AsyncSession) -> dict[tuple[str, str, str], date | None]:
    p = (await _x(session, select(P.c.id, P.c.nhs_index, P.c.trust_ods))).all()
    lines = select(ITEM.c.prescription_id, ITEM.c.dmd_code).where(ITEM.c.line_no == 1)
    medicine = dict((await _x(session, lines)).all())
    key = {i: (n, t, medicine[i]) for i, n, t in p if i in medicine}
    ends: dict[tuple[str, str, str], date | None] = {k: None for k in key.values()}
    for rx, on, days in (await _x(session, select(SC.c.prescription_id, SC.c.delivered_on, SC.c.days_supply).where(
            SC.c.kind == "delivered", SC.c.delivered_on.is_not(None)))).all():
        end = on + timedelta(days=days or 0)
        current = ends[key[rx]]
        ends[key[rx]] = end if current is None or end > current else current
    return ends


async def _bookings_from_scratch(session: AsyncSession) -> dict[tuple[str, str, str], tuple[bool, date | None]]:
    """Each treatment's bookings as `supply_model._covered` reads them: per delivery of a prescription not cancelled
    or expired, its latest report (by time, then id) when the delivery was never made."""
    p = (await _x(session, select(P.c.id, P.c.nhs_index, P.c.trust_ods))).all()
    lines = select(ITEM.c.prescription_id, ITEM.c.dmd_code).where(ITEM.c.line_no == 1)
    medicine = dict((await _x(session, lines)).all())
    key = {i: (n, t, medicine[i]) for i, n, t in p if i in medicine}
    stopped = set((await _x(session, select(EV.c.prescription_id).where(EV.c.kind.in_(("cancelled", "expired")))))
                  .scalars())
    latest: dict[tuple[str, int], tuple[str, date | None]] = {}
    made: set[tuple[str, int]] = set()
    changes = select(SC.c.prescription_id, SC.c.kind, SC.c.delivery_number, SC.c.scheduled_date, SC.c.delivered_on)
    for rx, kind, number, scheduled, on in (await _x(session, changes.order_by(SC.c.at, SC.c.id))).all():
        if kind == "prescribed":
            continue
        latest[rx, number] = (kind, scheduled)
        if kind == "delivered" and on is not None:
            made.add((rx, number))
    found: dict[tuple[str, str, str], tuple[bool, date | None]] = {k: (False, None) for k in key.values()}
    for (rx, number), (kind, scheduled) in latest.items():
        if rx in stopped or (rx, number) in made or rx not in key:
            continue
        in_transit, booked = found[key[rx]]
        if kind == "dispatched":
            in_transit = True
        elif kind == "scheduled" and scheduled is not None:
            booked = scheduled if booked is None else min(booked, scheduled)
        found[key[rx]] = (in_transit, booked)
    return found


async def _check(session: AsyncSession) -> None:
    t: Any = TreatmentRollup
    rows = (await _x(session, select(t.nhs_index, t.trust_ods, t.medicine, t.supply_ends, t.in_transit,
                                     t.booked_for))).all()
    assert {(n, tr, m): e for n, tr, m, e, _, _ in rows} == await _treatments_from_scratch(session)
    assert {(n, tr, m): (bool(i), b) for n, tr, m, _, i, b in rows} == await _bookings_from_scratch(session)
    for scope in (kpis.Scope(), kpis.Scope(provider_ods="PA"), kpis.Scope(trust_ods="T2")):
        everything = await kpis.held_prescriptions(session, scope)
        for days in (-40, -1, 0, 3, 10, 30):
            since = NOW + timedelta(days=days)
            held = await rollups.held_prescriptions(session, scope, since)
            for until in (since, since + timedelta(days=15)):
                for waiting in (False, True):
                    args = dict(trust_ods=scope.trust_ods, delivered_from=since, delivered_before=until,
                                waiting_only=waiting)
                    expected = sorted(map(repr, kpis.first_deliveries(everything, **args)))  # type: ignore[arg-type]
                    assert sorted(map(repr, kpis.first_deliveries(held, **args))) == expected  # type: ignore[arg-type]
            first = (NOW + timedelta(days=days)).date()
            ending = await supply_kpis.supplies_ending(session, scope, first, first + timedelta(days=14))
            expected_ending = await _supplies_ending_from_scratch(session, scope, first, first + timedelta(days=14))
            assert sorted(map(repr, ending)) == sorted(map(repr, expected_ending))
    cutoff = NOW + timedelta(days=40)  # after every write: the roll-up holds as of the cutoff
    assert not await rollups.recorded_from(session, cutoff)
    full = await supply_facts.load(session, cutoff)
    for days in (-30, 0, 5, 20, 35):
        day = (NOW + timedelta(days=days)).date()
        for limits, override in ((Thresholds(), None), (Thresholds(3, {"delivery-only": 20}), None),
                                 (Thresholds(), 60)):
            narrowed = await supply_facts.load(session, cutoff, supply_ending=supply_window(day, limits, override))
            assert at_risk(narrowed, day, limits, days=override) == at_risk(full, day, limits, days=override)


async def _run(url: str, steps: list[tuple[Any, ...]]) -> None:
    engine = create_async_engine(url)
    try:
        for op in steps:  # each write in its own transaction, as the gateway's writers do
            async with AsyncSession(engine) as session, session.begin():
                await _apply(session, op)
        async with AsyncSession(engine) as session:
            await _check(session)
    finally:
        await engine.dispose()


# Reports on the same deliveries in turn (the latest one counts, ties by id), one made, prescriptions expired and
# cancelled: the bookings the random steps rarely reach.
BOOKINGS = [
    ("add", 3, 0, "PA", "T1", "M1", 0),
    ("deliver", 0, 1, 1, 28),
    ("report", 0, 3, 2, "scheduled", 2, 20),
    ("report", 0, 1, 2, "failed", 3, 20),
    ("report", 1, 1, 3, "dispatched", 3, 0),
    ("report", 2, 1, 2, "dispatched", 4, 0),
    ("report", 2, 1, 2, "scheduled", 4, 40),
    ("event", 1, 1, "expired", 4),
    ("report", 0, 1, 3, "scheduled", 5, 10),
    ("report", 0, 1, 3, "dispatched", 5, 10),
    ("deliver", 0, 3, 6, 28),
    ("event", 2, 1, "cancelled", 7),
]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(steps=BOOKINGS)
@given(steps=ops)
def test_the_rollups_agree_with_the_timeline(database_url: str, steps: list[tuple[Any, ...]]) -> None:
    asyncio.run(_run(database_url, steps))


async def _race(url: str, rounds: int) -> None:
    engine = create_async_engine(url, pool_size=8)
    try:
        treatments = []
        async with AsyncSession(engine) as session, session.begin():
            for trust in TRUSTS:  # one patient, two treatments of three prescriptions each
                rows = [_rx(0, "PA", trust, NOW, str(uuid.uuid4())[:8], 1) for _ in range(3)]
                await _add(session, rows, "M1")
                treatments.append(sorted(r["id"] for r in rows))

        ids = [rx for treatment in treatments for rx in treatment]

        async def writer(w: int) -> None:
            for k in range(rounds):
                # As the gateway's writers report on a prescription: its row first (which queues reports on the
                # same prescription), then the delivery, the supply change and the event. Writers on the other
                # prescriptions of the treatment meet only on its roll-up row.
                rx = ids[(w * rounds + k) % len(ids)]
                at = NOW + timedelta(hours=w * rounds + k)
                state = ("scheduled", "dispatched", "delivered", "failed")[(w + k) % 4]
                number = 1 + (w + k) % 3
                async with AsyncSession(engine) as session, session.begin():
                    await _x(session, update(P).where(P.c.id == rx).values(updated_at=at))
                    await _x(session, insert(DL).values(prescription_id=rx, number=10 + w * rounds + k,
                                                        state="delivered", updated_at=at, delivered_at=at))
                    await _x(session, insert(SC).values(
                        prescription_id=rx, at=at, kind=state, delivery_number=number,
                        scheduled_date=(at + timedelta(days=k)).date(),
                        delivered_on=at.date() if state == "delivered" else None, days_supply=28))
                    await _event(session, [rx], ("acknowledged", "cancelled", "expired", "queued")[(w + k) % 4], at)

        await asyncio.gather(*(writer(w) for w in range(6)))  # a deadlock would raise here (DeadlockDetected)
        async with AsyncSession(engine) as session:
            await _check(session)
    finally:
        await engine.dispose()


def test_concurrent_writers_of_the_same_rollup_rows_neither_deadlock_nor_lose_updates(database_url: str) -> None:
    """Six writers at once on the same roll-up rows (one patient's two treatments and their six prescriptions), each
    transaction reporting on one prescription as the gateway's writers do: the triggers lock what they change in one
    order (migration 0024, "Lock order"), so all finish, and the roll-ups still agree."""
    if not database_url.startswith("postgresql"):
        return  # SQLite takes one writer at a time
    asyncio.run(_race(database_url, rounds=8))
