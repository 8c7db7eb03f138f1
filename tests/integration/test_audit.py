"""The audit chain on SQLite and PostgreSQL: appends do not wait, the sequencer chains them once and in order,
tampering is named (against anchors and signed heads), the guard refuses edits."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy import delete, insert, text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from gateway.audit import (
    ACTIONS,
    SYSTEM,
    Anchor,
    AuditEntity,
    AuditHead,
    AuditPending,
    AuditRecord,
    AuditRefusedError,
    Entry,
    Outcome,
    Problem,
    append,
    append_many,
    drop_append_only_sql,
    drop_entity_guard_sql,
    drop_guard_sql,
    sequence,
    verify,
)
from gateway.audit.chain import MAX_ENTITIES
from gateway.audit.cli import audit
from gateway.context import Gateway
from gateway.domain.identifiers import is_valid_nhs_number
from gateway.domain.principal import Principal, Role
from gateway.store.audit_tables import record_hash

TRUST = Principal("trust-rba-client", Role.TRUST, "RBA", frozenset())
OPERATOR = Principal("operator-client", Role.OPERATOR, "X26", frozenset())
TABLE = AuditRecord.__table__  # type: ignore[attr-defined]
INDEX = AuditEntity.__table__  # type: ignore[attr-defined]
HEADS = AuditHead.__table__  # type: ignore[attr-defined]
PENDING = AuditPending.__table__  # type: ignore[attr-defined]
NHS_NUMBER = "9434765919"


@pytest.fixture
def audit_gw(bare_gw: Gateway) -> Gateway:
    """An empty, migrated database: the migration creates the audit table and its append-only guard."""
    return bare_gw


async def _append(gw: Gateway, count: int, *, actor: Principal = TRUST) -> list[AuditRecord]:
    """`count` entries, each in its own transaction, then chained by the sequencer: their records."""
    for i in range(count):
        async with gw.sessions() as session, session.begin():
            await append(session, gw.clock, actor, "patient-data.read", "prescription", f"rx-{i}", "success")
    return await _sequenced(gw)


async def _sequenced(gw: Gateway, *, sign: bool = False) -> list[AuditRecord]:
    """Run the sequencer; the records it chained, in order."""
    result = await sequence(gw, sign=sign, wait=True)
    assert not result.busy
    async with gw.engine.connect() as conn:
        query = select(AuditRecord).where(AuditRecord.seq > result.last_seq - result.sequenced).order_by(TABLE.c.seq)
        return [AuditRecord(**row._mapping) for row in (await conn.execute(query)).all()]


async def _raw(gw: Gateway, *statements: Any) -> None:
    """Run statements as someone with database access would: with the guard dropped."""
    async with gw.engine.begin() as conn:
        dialect = conn.dialect.name
        drop = [*drop_guard_sql(dialect), *drop_entity_guard_sql(dialect), *drop_append_only_sql("audit_head", dialect)]
        for statement in drop:
            await conn.execute(text(statement))
        for statement in statements:
            await conn.execute(statement)


async def _row(gw: Gateway, seq: int) -> AuditRecord:
    async with gw.engine.connect() as conn:
        row = (await conn.execute(select(AuditRecord).where(AuditRecord.seq == seq))).one()
    return AuditRecord(**row._mapping)


def _edit(seq: int, /, **values: Any) -> Any:
    return update(TABLE).where(TABLE.c.seq == seq).values(**values)


async def test_appended_records_verify(audit_gw: Gateway) -> None:
    records = await _append(audit_gw, 5)
    result = await verify(audit_gw)
    assert result.ok and result.records == 5 and result.first_bad_seq is None
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == "0" * 64 and all(
        b.prev_hash == a.hash for a, b in zip(records, records[1:], strict=False)
    )
    assert result.head == Anchor(5, records[-1].hash)


async def test_empty_chain_verifies(audit_gw: Gateway) -> None:
    result = await verify(audit_gw)
    assert result.ok and result.records == 0 and result.head is None


async def test_audit_row_rolls_back_with_the_action(audit_gw: Gateway) -> None:
    await _append(audit_gw, 2)
    with pytest.raises(RuntimeError):
        async with audit_gw.sessions() as session, session.begin():
            await append(session, audit_gw.clock, OPERATOR, "operator.replay", "message", "m-1", "success")
            raise RuntimeError("the replay failed after the audit row was written")
    [third] = await _append(audit_gw, 1)
    assert (third.seq, third.action) == (3, "patient-data.read")
    result = await verify(audit_gw)
    assert result.ok and result.backlog is not None and result.backlog.unsequenced == 0


async def test_edited_row_is_named(audit_gw: Gateway) -> None:
    await _append(audit_gw, 5)
    await _raw(audit_gw, _edit(3, entity_id="rx-other"))
    result = await verify(audit_gw)
    assert (result.ok, result.first_bad_seq, result.problem, result.records) == (False, 3, Problem.HASH_MISMATCH, 2)


async def test_deleted_row_is_named_as_the_gap(audit_gw: Gateway) -> None:
    await _append(audit_gw, 5)
    await _raw(audit_gw, delete(TABLE).where(TABLE.c.seq == 3))
    result = await verify(audit_gw)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 3, Problem.SEQ_GAP)
    assert result.reason == "record 3 missing: the next record is 4"


async def test_rehashed_edit_is_named_at_its_successor(audit_gw: Gateway) -> None:
    await _append(audit_gw, 5)
    forged = await _row(audit_gw, 3)
    forged.entity_id = "rx-other"
    await _raw(audit_gw, _edit(3, entity_id="rx-other", hash=record_hash(forged.prev_hash, forged)))
    result = await verify(audit_gw)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 4, Problem.BROKEN_LINK)


async def test_concurrent_appends_make_a_perfect_chain(audit_gw: Gateway) -> None:
    """Twenty appenders and four sequencers at once: every entry is chained exactly once, with no gap."""
    start = asyncio.Barrier(24)

    async def one(i: int) -> None:
        await start.wait()  # all contend at once
        async with audit_gw.sessions() as session, session.begin():
            await append(session, audit_gw.clock, TRUST, "prescription.create", "prescription", f"rx-{i}", "success")

    async def sequencer() -> int:
        await start.wait()
        return (await sequence(audit_gw, sign=False)).sequenced

    *_, counts = await asyncio.gather(
        *(one(i) for i in range(20)), asyncio.gather(*(sequencer() for _ in range(4)))
    )
    records = await _sequenced(audit_gw)
    async with audit_gw.engine.connect() as conn:
        chained = [r.entity_id for r in (await conn.execute(select(AuditRecord).order_by(TABLE.c.seq))).all()]
    assert sum(counts) + len(records) == 20
    assert sorted(chained) == sorted(f"rx-{i}" for i in range(20))
    result = await verify(audit_gw)
    assert result.ok and result.records == 20 and result.backlog is not None and result.backlog.unsequenced == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_appender_does_not_wait_for_an_open_transaction(audit_gw: Gateway) -> None:
    """PostgreSQL only (SQLite serialises every transaction at BEGIN IMMEDIATE): a second audited transaction
    commits while the first is still open, and the sequencer chains only what has committed, in append order."""

    async def second() -> None:
        async with audit_gw.sessions() as session, session.begin():
            await append(session, audit_gw.clock, TRUST, "order.release", "outbox", "7", "success")

    async with audit_gw.sessions() as session, session.begin():
        await append(session, audit_gw.clock, OPERATOR, "operator.pause", "provider", "VNFKT", "success")
        async with asyncio.timeout(10):
            await second()  # would wait for this transaction's end if appenders were serialised
        assert await _advisory_waiters(audit_gw) == 0
        [chained] = await _sequenced(audit_gw)
        assert (chained.seq, chained.entity_id) == (1, "7")
    [later] = await _sequenced(audit_gw)
    assert (later.seq, later.entity_id) == (2, "VNFKT")
    assert (await verify(audit_gw)).ok


async def _advisory_waiters(gw: Gateway) -> int:
    async with gw.engine.connect() as conn:
        query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return int((await conn.execute(query)).scalar_one())


async def test_guard_refuses_update_and_delete(audit_gw: Gateway) -> None:
    await _append(audit_gw, 2)
    await _sequenced(audit_gw, sign=True)
    refused = [
        "UPDATE audit_record SET outcome = 'refused' WHERE seq = 1",
        "DELETE FROM audit_record WHERE seq = 2",
        "DELETE FROM audit_record",
        "UPDATE audit_head SET seq = 1",
        "DELETE FROM audit_head",
    ]
    if not audit_gw.is_sqlite:
        refused += ["TRUNCATE audit_record", "TRUNCATE audit_head"]
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"):
            async with audit_gw.engine.begin() as conn:
                await conn.execute(text(statement))
    result = await verify(audit_gw)
    assert result.ok and result.records == 2 and result.signed_heads == 1


async def test_audit_events_are_valid_fhir_with_ids_only(audit_gw: Gateway) -> None:
    given: list[tuple[Any, str, str, str, Outcome, dict[str, str | int | bool] | None]] = [
        (
            TRUST if action.startswith(("patient", "prescription")) else OPERATOR,
            action,
            "prescription",
            str(uuid.uuid4()),
            Outcome.SUCCESS,
            None,
        )
        for action in ACTIONS
    ]
    given.append((SYSTEM, "order.release", "outbox", "42", Outcome.FAILED, {"provider": "VNFKT", "attempt": 3}))
    given.append(
        (OPERATOR, "configuration.change", "setting", "release_max", Outcome.REFUSED, {"from": "50", "to": "1"})
    )
    for actor, action, entity_type, entity_id, outcome, detail in given:
        async with audit_gw.sessions() as session, session.begin():
            await append(session, audit_gw.clock, actor, action, entity_type, entity_id, outcome, detail)
        [record] = await _sequenced(audit_gw)
        event = AuditEvent.model_validate_json(record.event_json)
        spec = ACTIONS[action]
        assert (event.action, event.outcome, event.type.code) == (spec.fhir_action, outcome.fhir_code, spec.type.code)
        assert event.entity[0].what.identifier.value == entity_id
        assert event.agent[0].requestor is True
        if actor is not SYSTEM:
            assert [a.who.identifier.value for a in event.agent] == [actor.client_id, actor.ods]
        allowed = _allowed_strings(actor, entity_id, detail, record)
        assert set(_strings(json.loads(record.event_json))) <= allowed
    assert (await verify(audit_gw)).ok


# What the gateway itself writes into every AuditEvent, besides the action catalogue's codes.
STRUCTURE = {
    "AuditEvent", "Homecare Gateway", "homecare-gateway",
    "http://dicom.nema.org/resources/ontology/DCM", "110150", "Application",
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "RESP", "responsible party",
    "http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server",
    "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object",
    "https://fhir.nhs.uk/Id/ods-organization-code",
}  # fmt: skip


def _allowed_strings(actor: Any, entity_id: str, detail: dict[str, Any] | None, record: AuditRecord) -> set[str]:
    """The catalogue, the structure, and the ids that were given: nothing else may appear."""
    catalogue = {
        s for spec in ACTIONS.values() for c in (spec.type, spec.subtype) for s in (c.system, c.code, c.display)
    }
    catalogue |= {spec.fhir_action for spec in ACTIONS.values()} | {o.fhir_code for o in Outcome} | set(Outcome)
    given = {entity_id, str(record.seq), json.loads(record.event_json)["recorded"]}
    given |= {actor.client_id, actor.ods, actor.role.value} if isinstance(actor, Principal) else {actor.name}
    given |= {str(k) for k in detail or {}} | {str(v) for v in (detail or {}).values()}
    systems = {f"https://fhir.homecaregateway.uk/Id/{name}" for name in (record.entity_type, "client-id", "gateway")}
    systems.add("https://fhir.homecaregateway.uk/Id/gateway-component")
    return catalogue | STRUCTURE | given | systems


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize(
    ("entity_id", "detail", "field"),
    [
        (NHS_NUMBER, None, "entity_id"),
        ("943 476 5919", None, "entity_id"),
        ("943-476-5919", None, "entity_id"),
        ("rx-1", {"ref": int(NHS_NUMBER)}, "detail.ref"),
        ("rx-1", {"by": "John Smith"}, "detail.by"),
        ("rx-1", {"patient_ref": "p-1"}, "detail"),
        ("rx-1", {"ref": f"urn:nhs:{NHS_NUMBER}"}, "detail.ref"),
    ],
)
async def test_patient_data_is_refused(
    audit_gw: Gateway, entity_id: str, detail: dict[str, str | int] | None, field: str
) -> None:
    assert is_valid_nhs_number(NHS_NUMBER)
    with pytest.raises(AuditRefusedError) as caught:
        async with audit_gw.sessions() as session, session.begin():
            await append(
                session, audit_gw.clock, TRUST, "patient-data.read", "prescription", entity_id, "success", detail
            )
    assert caught.value.field == field
    assert NHS_NUMBER not in str(caught.value) and "Smith" not in str(caught.value)


async def test_unknown_action_is_refused(audit_gw: Gateway) -> None:
    with pytest.raises(AuditRefusedError):
        async with audit_gw.sessions() as session, session.begin():
            await append(session, audit_gw.clock, TRUST, "prescription.peek", "prescription", "rx-1", "success")


# --- records of batch actions ----------------------------------------------------------------------------------------


async def _append_batch(gw: Gateway, ids: list[str], detail: dict[str, str] | None = None) -> list[AuditRecord]:
    """One batch action over `ids`, as a release or a batch of acknowledgements records it."""
    async with gw.sessions() as session, session.begin():
        entries = Entry.batch(TRUST, "order.acknowledge", "message", ids, "success", detail)
        await append_many(session, gw.clock, entries)
    return await _sequenced(gw)


async def _index_rows(gw: Gateway) -> list[tuple[int, str, str]]:
    async with gw.engine.connect() as conn:
        rows = (await conn.execute(select(AuditEntity.seq, AuditEntity.entity_type, AuditEntity.entity_id))).all()
    return sorted((int(r[0]), r[1], r[2]) for r in rows)


async def test_a_batch_record_names_every_entity_and_is_found_by_any_of_them(audit_gw: Gateway) -> None:
    from gateway.audit import OperatorActor
    from gateway.operations import overview as operations
    from gateway.store import console as store

    await _append(audit_gw, 1)
    ids = [f"m-{i}" for i in range(5)]
    [record] = await _append_batch(audit_gw, ids, {"response": "ok"})
    event = AuditEvent.model_validate_json(record.event_json)
    assert [e.what.identifier.value for e in event.entity] == ids
    assert all(e.detail[0].type == "response" and e.detail[0].valueString == "ok" for e in event.entity)
    assert (record.seq, record.entity_id) == (2, "m-0")
    assert await _index_rows(audit_gw) == [(2, "message", i) for i in ids]
    async with audit_gw.sessions() as session:
        for wanted in ("m-3", "m-0"):
            total, rows = await store.audit_page(session, entity_id=wanted, actor=None, offset=0, limit=10)
            assert (total, [r.seq for r in rows]) == (1, [2])
        total, _ = await store.audit_page(session, entity_id="m-9", actor=None, offset=0, limit=10)
        assert total == 0
    trail = await operations.audit_trail(audit_gw, OperatorActor("aud", "auditor"), entity_id="m-3")
    [shown] = trail["records"]
    assert (shown["seq"], shown["entity_id"], shown["entity_count"]) == (2, "m-0", 5)
    assert shown["detail"] == {"response": "ok"}
    assert (await verify(audit_gw)).ok


async def test_a_single_entity_record_is_unchanged_and_not_indexed(audit_gw: Gateway) -> None:
    """Records written before batch records existed must verify alike: one entity, no index rows."""
    [record] = await _append_batch(audit_gw, ["m-1"])
    [plain] = await _append(audit_gw, 1)
    assert len(json.loads(record.event_json)["entity"]) == 1 == len(json.loads(plain.event_json)["entity"])
    assert await _index_rows(audit_gw) == []
    assert (await verify(audit_gw)).ok


async def test_a_large_batch_is_split_into_records_of_at_most_max_entities(audit_gw: Gateway) -> None:
    ids = [f"m-{i}" for i in range(MAX_ENTITIES * 2 + 3)]
    records = await _append_batch(audit_gw, ids)
    assert [len(json.loads(r.event_json)["entity"]) for r in records] == [MAX_ENTITIES, MAX_ENTITIES, 3]
    named = [e["what"]["identifier"]["value"] for r in records for e in json.loads(r.event_json)["entity"]]
    assert named == ids
    assert len(await _index_rows(audit_gw)) == len(ids)
    assert (await verify(audit_gw)).ok
    assert Entry.batch(TRUST, "order.release", "message", [], "success") == []


@pytest.mark.parametrize(
    ("also", "field"),
    [((NHS_NUMBER,), "also[0]"), (("m-2", "John Smith"), "also[1]"), (("m-1",), "also"), (("m-2",) * 2, "also")],
)
async def test_a_batch_record_refuses_patient_data_and_repeated_entities(
    audit_gw: Gateway, also: tuple[str, ...], field: str
) -> None:
    with pytest.raises(AuditRefusedError) as caught:
        async with audit_gw.sessions() as session, session.begin():
            entry = Entry(TRUST, "order.release", "message", "m-1", "success", None, also)
            await append_many(session, audit_gw.clock, [entry])
    assert caught.value.field == field
    assert NHS_NUMBER not in str(caught.value) and "Smith" not in str(caught.value)
    assert await _index_rows(audit_gw) == [] and (await verify(audit_gw)).records == 0


@pytest.mark.parametrize(
    ("name", "tamper", "bad_seq"),
    [
        ("index row deleted", lambda: delete(INDEX).where(INDEX.c.entity_id == "m-2"), 3),
        ("index row edited", lambda: update(INDEX).where(INDEX.c.entity_id == "m-2").values(entity_id="m-9"), 3),
        ("index row added", lambda: insert(INDEX).values(seq=2, entity_type="message", entity_id="m-9"), 2),
        ("index row for a record that is gone", lambda: insert(INDEX).values(seq=7, entity_type="x", entity_id="y"), 7),
    ],
)
async def test_the_entity_index_is_checked_against_the_chain(
    audit_gw: Gateway, name: str, tamper: Callable[[], Any], bad_seq: int
) -> None:
    await _append(audit_gw, 2)
    await _append_batch(audit_gw, ["m-1", "m-2", "m-3"])
    await _append(audit_gw, 1)
    assert (await verify(audit_gw)).ok
    await _raw(audit_gw, tamper())
    result = await verify(audit_gw)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, bad_seq, Problem.ENTITY_INDEX), name


async def test_the_guard_refuses_edits_to_the_entity_index(audit_gw: Gateway) -> None:
    await _append_batch(audit_gw, ["m-1", "m-2"])
    for statement in (delete(INDEX), update(INDEX).values(entity_id="m-9")):
        with pytest.raises(DBAPIError, match="audit_entity is append-only"):
            async with audit_gw.engine.begin() as conn:
                await conn.execute(statement)
    assert len(await _index_rows(audit_gw)) == 2


# --- the tamper corpus ------------------------------------------------------------------------------------------------

Tamper = Callable[[Gateway], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    name: str
    tamper: Tamper
    first_bad_seq: int
    problem: Problem
    anchored: bool = False  # tail rewrites are only visible against a head kept outside the database


def _statements(*statements: Any) -> Tamper:
    async def run(gw: Gateway) -> None:
        await _raw(gw, *statements)

    return run


def _rehash(*seqs: int, edit_first: dict[str, Any]) -> Tamper:
    """Edit the first of `seqs`, then recompute it and every following one so that each links to the last."""

    async def run(gw: Gateway) -> None:
        prev_hash = (await _row(gw, seqs[0])).prev_hash
        statements = []
        for i, seq in enumerate(seqs):
            record = await _row(gw, seq)
            values = dict(edit_first) if i == 0 else {}
            for name, value in values.items():
                setattr(record, name, value)
            record.prev_hash = prev_hash
            prev_hash = record_hash(prev_hash, record)
            statements.append(_edit(seq, **values, prev_hash=record.prev_hash, hash=prev_hash))
        await _raw(gw, *statements)

    return run


def _renumber(*moves: tuple[int, int]) -> Any:
    return [_edit(old, seq=new) for old, new in moves]


async def _insert_in_middle(gw: Gateway) -> None:
    """Shift 5..8 up and put a well-formed forged record 5 between 4 and the old 5."""
    four = await _row(gw, 4)
    forged = await _row(gw, 5)
    forged.entity_id, forged.prev_hash = "rx-forged", four.hash
    forged.hash = record_hash(four.hash, forged)
    shifts = [_edit(seq, seq=seq + 1) for seq in (8, 7, 6, 5)]
    await _raw(gw, *shifts, insert(TABLE).values(**forged.model_dump()))


async def _append_forged(gw: Gateway) -> None:
    eight = await _row(gw, 8)
    eight.seq, eight.prev_hash, eight.hash, eight.entity_id = 9, eight.hash, "f" * 64, "rx-forged"
    await _raw(gw, insert(TABLE).values(**eight.model_dump()))


CORPUS = [
    Case("edit action", _statements(_edit(3, action="configuration.change")), 3, Problem.HASH_MISMATCH),
    Case("edit entity id", _statements(_edit(3, entity_id="rx-other")), 3, Problem.HASH_MISMATCH),
    Case("edit actor ODS", _statements(_edit(2, actor_ods="RHM")), 2, Problem.HASH_MISMATCH),
    Case("edit actor client", _statements(_edit(6, actor_client_id="someone")), 6, Problem.HASH_MISMATCH),
    Case("edit time", _statements(_edit(5, at=datetime(2020, 1, 1, tzinfo=UTC))), 5, Problem.HASH_MISMATCH),
    Case("edit outcome", _statements(_edit(4, outcome="refused")), 4, Problem.HASH_MISMATCH),
    Case("edit event JSON", _statements(_edit(1, event_json="{}")), 1, Problem.HASH_MISMATCH),
    Case("edit last record", _statements(_edit(8, entity_id="rx-other")), 8, Problem.HASH_MISMATCH),
    Case("overwrite hash", _statements(_edit(7, hash="a" * 64)), 7, Problem.HASH_MISMATCH),
    Case("overwrite prev_hash", _statements(_edit(5, prev_hash="b" * 64)), 5, Problem.BROKEN_LINK),
    Case("delete first", _statements(delete(TABLE).where(TABLE.c.seq == 1)), 1, Problem.SEQ_GAP),
    Case("delete middle", _statements(delete(TABLE).where(TABLE.c.seq == 4)), 4, Problem.SEQ_GAP),
    Case("delete a run", _statements(delete(TABLE).where(TABLE.c.seq.in_([3, 4, 5]))), 3, Problem.SEQ_GAP),
    Case(
        "delete and renumber",
        _statements(delete(TABLE).where(TABLE.c.seq == 3), *_renumber(*((s, s - 1) for s in range(4, 9)))),
        3,
        Problem.BROKEN_LINK,
    ),
    Case("swap two records", _statements(*_renumber((3, -3), (4, 3), (-3, 4))), 3, Problem.BROKEN_LINK),
    Case("re-hash edited record", _rehash(3, edit_first={"entity_id": "rx-other"}), 4, Problem.BROKEN_LINK),
    Case("insert in the middle", _insert_in_middle, 6, Problem.BROKEN_LINK),
    Case("append forged record", _append_forged, 9, Problem.HASH_MISMATCH),
    Case("truncate tail", _statements(delete(TABLE).where(TABLE.c.seq >= 7)), 7, Problem.TRUNCATED, anchored=True),
    Case("delete everything", _statements(delete(TABLE)), 1, Problem.TRUNCATED, anchored=True),
    Case(
        "re-hash the tail",
        _rehash(6, 7, 8, edit_first={"outcome": "refused"}),
        8,
        Problem.ANCHOR_MISMATCH,
        anchored=True,
    ),
    Case("re-hash last record", _rehash(8, edit_first={"entity_id": "x"}), 8, Problem.ANCHOR_MISMATCH, anchored=True),
]


async def test_tamper_corpus(audit_gw: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    caught: list[str] = []
    missed: list[str] = []
    for case in CORPUS:
        await _raw(audit_gw, delete(TABLE), delete(HEADS))
        await _append(audit_gw, 8)
        head = (await verify(audit_gw)).head
        await case.tamper(audit_gw)
        result = await verify(audit_gw, anchor=head if case.anchored else None)
        named = (result.ok, result.first_bad_seq, result.problem) == (False, case.first_bad_seq, case.problem)
        (caught if named else missed).append(f"{case.name}: {result.as_json()}")
    dialect = "SQLite" if audit_gw.is_sqlite else "PostgreSQL"
    anchored = sum(c.anchored for c in CORPUS)
    with capsys.disabled():
        print(
            f"\ntampered audit rows caught: {100 * len(caught) // len(CORPUS)}% ({len(caught)}/{len(CORPUS)} on "
            f"{dialect}; {anchored} tail rewrites checked against an anchor)"
        )
    assert not missed, missed


# --- signed heads and the backlog ------------------------------------------------------------------------------------

# What a head the sequencer signed reports for each tail rewrite the corpus checks against an external anchor.
HEAD_PROBLEM = {Problem.TRUNCATED: Problem.TRUNCATED, Problem.ANCHOR_MISMATCH: Problem.HEAD_MISMATCH}


@pytest.mark.parametrize("case", [c for c in CORPUS if c.anchored], ids=lambda c: c.name)
async def test_a_signed_head_catches_tail_rewrites_without_an_anchor(audit_gw: Gateway, case: Case) -> None:
    await _append(audit_gw, 7)
    async with audit_gw.sessions() as session, session.begin():
        await append(session, audit_gw.clock, TRUST, "patient-data.read", "prescription", "rx-7", "success")
    await _sequenced(audit_gw, sign=True)
    intact = await verify(audit_gw)
    assert intact.ok and intact.signed_heads == 1 and intact.head is not None and intact.head.seq == 8
    await case.tamper(audit_gw)
    result = await verify(audit_gw)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, case.first_bad_seq, HEAD_PROBLEM[case.problem])


async def test_an_edited_or_forged_head_is_named(audit_gw: Gateway) -> None:
    from gateway.audit.heads import sign_head
    from gateway.signing.keys import SigningKeyStore

    await _append(audit_gw, 3)
    await _sequenced(audit_gw, sign=True)
    await _raw(audit_gw, update(HEADS).where(HEADS.c.seq == 3).values(at=datetime(2020, 1, 1, tzinfo=UTC)))
    edited = await verify(audit_gw)
    assert (edited.ok, edited.first_bad_seq, edited.problem) == (False, 3, Problem.HEAD_SIGNATURE)
    assert "edited or forged" in (edited.reason or "")

    await _raw(audit_gw, delete(HEADS))
    assert (await verify(audit_gw)).ok
    two = (await _row(audit_gw, 2)).hash
    other = SigningKeyStore.load_or_create(audit_gw.settings.data_dir / "elsewhere", "test")
    forged = sign_head(other, 2, two, audit_gw.clock())
    await _raw(audit_gw, insert(HEADS).values(**forged.model_dump()))
    result = await verify(audit_gw)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 2, Problem.HEAD_SIGNATURE)
    assert "not one of the gateway's" in (result.reason or "")


async def test_the_sequencer_signs_a_head_once_the_last_is_old_enough(audit_gw: Gateway) -> None:
    await _append(audit_gw, 2)
    assert (await sequence(audit_gw)).signed_head == 2  # no head yet: the first is signed at once
    await _append(audit_gw, 1)
    assert (await sequence(audit_gw)).signed_head is None  # the last head is younger than audit_head_seconds
    assert (await sequence(audit_gw, sign=True)).signed_head == 3
    assert (await sequence(audit_gw, sign=True)).signed_head is None  # nothing new to sign
    assert (await verify(audit_gw)).signed_heads == 2


async def test_the_sequencer_chains_in_batches_in_append_order(audit_gw: Gateway) -> None:
    for i in range(7):
        async with audit_gw.sessions() as session, session.begin():
            await append(session, audit_gw.clock, TRUST, "patient-data.read", "prescription", f"rx-{i}", "success")
    result = await sequence(audit_gw, sign=False, batch=3)  # three transactions: 3, 3 and 1
    assert (result.sequenced, result.last_seq) == (7, 7)
    async with audit_gw.engine.connect() as conn:
        rows = (await conn.execute(select(AuditRecord.seq, AuditRecord.entity_id).order_by(TABLE.c.seq))).all()
        left = (await conn.execute(select(PENDING.c.id))).all()
    assert [tuple(r) for r in rows] == [(i + 1, f"rx-{i}") for i in range(7)] and left == []
    assert (await verify(audit_gw)).ok


async def test_a_running_server_chains_entries_in_the_background(settings: Any) -> None:
    """The sequencer loop of `hgw serve` (every HGW_AUDIT_SEQUENCE_SECONDS) chains what requests appended."""
    from gateway.wiring import build_gateway
    from tests.conftest import serve

    gw = build_gateway(settings.model_copy(update={"audit_sequence_seconds": 0.05, "push_workers": 0}))
    try:
        async with serve(gw):
            async with gw.sessions() as session, session.begin():
                await append(session, gw.clock, TRUST, "patient-data.read", "prescription", "rx-bg", "success")
            # Entries appended while the server started may be chained in an earlier batch than the test's own:
            # wait until nothing is left to chain, not merely until something is.
            async with asyncio.timeout(30):
                while (result := await verify(gw)).records == 0 or (
                    result.backlog is not None and result.backlog.unsequenced > 0
                ):
                    await asyncio.sleep(0.05)
        assert result.ok and result.backlog is not None and result.backlog.unsequenced == 0
        assert result.signed_heads == 1  # the first head is signed at once
    finally:
        await gw.close()


async def test_verify_reports_entries_not_yet_chained_and_how_old(audit_gw: Gateway) -> None:
    await _append(audit_gw, 1)
    for i in range(2):
        async with audit_gw.sessions() as session, session.begin():
            await append(session, audit_gw.clock, TRUST, "patient-data.read", "prescription", f"late-{i}", "success")
    fresh = await verify(audit_gw)
    assert fresh.ok and fresh.records == 1 and fresh.backlog is not None
    assert fresh.backlog.unsequenced == 2 and fresh.backlog.oldest_seconds is not None
    assert not fresh.backlog.behind
    later = replace(audit_gw, clock=lambda: datetime.now(UTC) + timedelta(seconds=61))
    stale = await verify(later)
    assert stale.ok and stale.backlog is not None and stale.backlog.behind
    assert stale.as_json()["sequencing_behind"] is True and stale.as_json()["unsequenced"] == 2
    await _sequenced(audit_gw)
    assert (await verify(later)).as_json()["unsequenced"] == 0


# --- the command line -------------------------------------------------------------------------------------------------


async def _cli(gw: Gateway, *args: str) -> Result:
    """`hgw audit verify` in a thread: the command runs its own event loop, as it does from a shell."""
    return await asyncio.to_thread(CliRunner().invoke, audit, ["verify", *args], obj=gw.settings)


async def test_cli_sequence_and_verify(audit_gw: Gateway) -> None:
    for i in range(4):
        async with audit_gw.sessions() as session, session.begin():
            await append(session, audit_gw.clock, TRUST, "patient-data.read", "prescription", f"rx-{i}", "success")
    pending = json.loads((await _cli(audit_gw)).output)
    assert (pending["records"], pending["unsequenced"]) == (0, 4)
    chained = await asyncio.to_thread(CliRunner().invoke, audit, ["sequence"], obj=audit_gw.settings)
    assert chained.exit_code == 0, chained.output
    assert json.loads(chained.output) == {"sequenced": 4, "last_seq": 4, "signed_head": 4, "busy": False}
    ok = await _cli(audit_gw)
    assert ok.exit_code == 0, ok.output
    intact = json.loads(ok.output)
    assert intact["ok"] is True and intact["records"] == 4 and intact["first_bad_seq"] is None
    assert (intact["signed_heads"], intact["unsequenced"]) == (1, 0)

    await _raw(audit_gw, _edit(2, outcome="refused"))
    bad = await _cli(audit_gw)
    assert bad.exit_code == 1, bad.output
    assert {k: json.loads(bad.output)[k] for k in ("ok", "records", "first_bad_seq")} == {
        "ok": False,
        "records": 1,
        "first_bad_seq": 2,
    }
    assert "reason" in json.loads(bad.output)

    anchored = await _cli(audit_gw, "--anchor", intact["head"])
    assert anchored.exit_code == 1 and json.loads(anchored.output)["first_bad_seq"] == 2
    wrong = await _cli(audit_gw, "--anchor", "nonsense")
    assert wrong.exit_code == 2


async def test_the_flow_leaves_an_intact_audit_trail(trust: Any, provider: Any, gw: Gateway) -> None:
    """Reading a prescription, creating one, releasing and acknowledging it are each audited, in one chain."""
    from conformance.parties import provider_messages as msg
    from tests.integration.helpers import export, post_export, post_fhir

    sid = (await post_export(trust, export(1, seed=61))).json()["prescriptions"][0]["short_form_id"]
    assert (await trust.get(f"/api/v1/prescriptions/{sid}")).status_code == 200
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT"))
    order = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")["resource"]["entry"][0]
    facts = msg.order_facts(order["resource"])
    await post_fhir(provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNFKT", facts["message_id"], "x"))
    await sequence(gw, wait=True)
    async with gw.engine.connect() as conn:
        actions = [a for (a,) in (await conn.execute(text("SELECT action FROM audit_record ORDER BY seq"))).all()]
    flow = [a for a in actions if not a.endswith("configuration.change")]  # the fixture's providers and clients
    assert flow == ["prescription.create", "patient-data.read", "order.release", "order.acknowledge"]
    assert (await verify(gw)).ok
