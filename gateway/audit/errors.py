"""Audit trail errors.

GatewayError
└── AuditError
    ├── AuditRefusedError   the record cannot be written as asked: unknown action, patient data in it
    └── AuditStoreError     the database failed while appending or verifying (SQLAlchemy errors are chained)
"""

from __future__ import annotations

from gateway.errors import GatewayError


class AuditError(GatewayError):
    code = "AUDIT_ERROR"


class AuditRefusedError(AuditError):
    """`field` names what was refused; the offending value is deliberately not kept (it may be patient data)."""

    code = "AUDIT_REFUSED"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class AuditStoreError(AuditError):
    code = "AUDIT_STORE_ERROR"
