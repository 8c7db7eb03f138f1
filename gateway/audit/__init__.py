"""The audit trail: append-only, hash-chained records of every patient-data access and operator action.

`append` writes an entry inside the caller's transaction, without waiting for other appenders; `sequence` chains
committed entries into hash-chained records and signs the chain's head; `verify` walks the chain and its signed
heads and names the first broken record; `guard` holds the triggers that refuse UPDATE and DELETE. See
docs/audit.md.
"""

from gateway.audit.actions import ACTIONS, ActionSpec
from gateway.audit.actor import SYSTEM, Actor, OperatorActor, SystemActor
from gateway.audit.chain import Entry, append, append_many, pending_rows
from gateway.audit.errors import AuditError, AuditRefusedError, AuditStoreError
from gateway.audit.guard import (
    append_only_sql,
    drop_append_only_sql,
    drop_entity_guard_sql,
    drop_guard_sql,
    entity_guard_sql,
    guard_sql,
    postgres_guard_sql,
    sqlite_guard_sql,
)
from gateway.audit.sequencer import SequenceResult, sequence
from gateway.audit.verify import Anchor, Backlog, Problem, VerifyResult, verify
from gateway.store.audit_tables import AuditEntity, AuditHead, AuditPending, AuditRecord, Outcome

__all__ = [
    "ACTIONS",
    "SYSTEM",
    "ActionSpec",
    "Actor",
    "Anchor",
    "Backlog",
    "AuditEntity",
    "AuditHead",
    "AuditPending",
    "AuditError",
    "AuditRecord",
    "AuditRefusedError",
    "AuditStoreError",
    "Entry",
    "OperatorActor",
    "Outcome",
    "Problem",
    "SequenceResult",
    "SystemActor",
    "VerifyResult",
    "append",
    "append_many",
    "pending_rows",
    "append_only_sql",
    "drop_append_only_sql",
    "drop_entity_guard_sql",
    "drop_guard_sql",
    "entity_guard_sql",
    "guard_sql",
    "postgres_guard_sql",
    "sequence",
    "sqlite_guard_sql",
    "verify",
]
