"""The campaign's report: what the gateway accepted, against what the provider received and applied."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.domain.outbox import WAITING, OutboxState


@dataclass
class Tally:
    """What the driver itself saw while the campaign ran."""

    kills_random: int = 0
    kills_after_answer_before_commit: int = 0
    unexpected_exits: int = 0
    stalls: int = 0
    pg_restarts: int = 0
    pg_unavailable_seconds: float = 0.0
    ingest_retries: int = 0
    kill_phase_seconds: float = 0.0
    drain_seconds: float = 0.0
    accepted_rx: set[str] = field(default_factory=set)
    rejected: int = 0


@dataclass(frozen=True)
class CampaignReport:
    """The figures the issue asks for; `passed` when nothing was lost, applied twice or left in flight."""

    database: str
    duration_seconds: float
    kill_phase_seconds: float
    drain_seconds: float
    worker_processes: int
    messages_accepted: int
    delivered: int
    lost: int
    duplicate_deliveries: int
    duplicate_effects: int
    stuck_in_flight: int
    dead: int
    unexpected_effects: int
    kills: int
    kills_random: int
    kills_after_answer_before_commit: int
    unexpected_exits: int
    stalls: int
    pg_restarts: int
    pg_unavailable_seconds: float
    fenced_attempts: int
    interrupted_attempts: int
    receipts: int
    ingest_retries: int
    faults_injected: dict[str, int]

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicate_effects == 0 and self.stuck_in_flight == 0

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "passed": self.passed}


def tally_report(
    *,
    database: str,
    duration: float,
    workers: int,
    rows: Iterable[tuple[str, str, str]],
    fenced: int,
    interrupted: int,
    receiver: dict[str, Any],
    tally: Tally,
) -> CampaignReport:
    """Compare the outbox (message id, state, RxNumber) with the provider's ledger.

    lost: a message the gateway accepted (or a prescription it said it accepted) that the provider never
    applied, whatever the outbox says; stuck: still queued or leased when the campaign ended.
    """
    rows = list(rows)
    applied = set(receiver["applied"])
    accepted_ids = {message_id for message_id, _, _ in rows}
    never_queued = len(tally.accepted_rx - {rx for _, _, rx in rows})
    return CampaignReport(
        database=database,
        duration_seconds=round(duration, 1),
        kill_phase_seconds=round(tally.kill_phase_seconds, 1),
        drain_seconds=round(tally.drain_seconds, 1),
        worker_processes=workers,
        messages_accepted=len(rows),
        delivered=sum(state == OutboxState.ACKNOWLEDGED and m in applied for m, state, _ in rows),
        lost=len(accepted_ids - applied) + never_queued,
        duplicate_deliveries=int(receiver["duplicate_deliveries"]),
        duplicate_effects=int(receiver["duplicate_effects"]),
        stuck_in_flight=sum(state in WAITING for _, state, _ in rows),
        dead=sum(state == OutboxState.DEAD for _, state, _ in rows),
        unexpected_effects=len(applied - accepted_ids),
        kills=tally.kills_random + tally.kills_after_answer_before_commit,
        kills_random=tally.kills_random,
        kills_after_answer_before_commit=tally.kills_after_answer_before_commit,
        unexpected_exits=tally.unexpected_exits,
        stalls=tally.stalls,
        pg_restarts=tally.pg_restarts,
        pg_unavailable_seconds=round(tally.pg_unavailable_seconds, 2),
        fenced_attempts=fenced,
        interrupted_attempts=interrupted,
        receipts=int(receiver["receipts"]),
        ingest_retries=tally.ingest_retries,
        faults_injected=dict(receiver["faults"]),
    )
