"""The audit trail: append-only, hash-chained records of every patient-data access and operator action.

`append` writes a record inside the caller's transaction; `verify` walks the chain and names the first
broken record; `guard` holds the triggers that refuse UPDATE and DELETE. See docs/audit.md.
"""

from gateway.audit.actions import ACTIONS, ActionSpec
from gateway.audit.actor import SYSTEM, Actor, OperatorActor, SystemActor
from gateway.audit.chain import Entry, append, append_many
from gateway.audit.errors import AuditError, AuditRefusedError, AuditStoreError
from gateway.audit.guard import (
    drop_entity_guard_sql,
    drop_guard_sql,
    entity_guard_sql,
    guard_sql,
    postgres_guard_sql,
    sqlite_guard_sql,
)
from gateway.audit.record import AuditEntity, AuditRecord, Outcome
from gateway.audit.verify import Anchor, Problem, VerifyResult, verify

__all__ = [
    "ACTIONS",
    "SYSTEM",
    "ActionSpec",
    "Actor",
    "Anchor",
    "AuditEntity",
    "AuditError",
    "AuditRecord",
    "AuditRefusedError",
    "AuditStoreError",
    "Entry",
    "OperatorActor",
    "Outcome",
    "Problem",
    "SystemActor",
    "VerifyResult",
    "append",
    "append_many",
    "drop_entity_guard_sql",
    "drop_guard_sql",
    "entity_guard_sql",
    "guard_sql",
    "postgres_guard_sql",
    "sqlite_guard_sql",
    "verify",
]
