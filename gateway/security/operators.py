"""Console roles and what each may do: one table, checked by the services (never only by the pages).

viewer    sees the overview, the message browser and message details, patient data masked
operator  also replays messages, pauses and resumes providers, sets dead letters aside
admin     also manages operators
auditor   sees what a viewer sees, plus the audit trail, and may unmask patient data (each unmask audited)

An OAuth client of role `operator` (the JSON operator API) acts with the console role `operator`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from gateway.audit.actor import OperatorActor
from gateway.domain.principal import Principal, Role, require_role
from gateway.errors import ForbiddenError


class OperatorRole(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    VIEW = "view"
    REPLAY = "replay"
    PAUSE = "pause"
    DEAD_LETTER = "dead-letter"
    MANAGE_OPERATORS = "manage-operators"
    READ_AUDIT = "read-audit"
    UNMASK = "unmask"


_ALL: Final = frozenset(OperatorRole)
_ACTING: Final = frozenset({OperatorRole.OPERATOR, OperatorRole.ADMIN})
GRANTS: Final[dict[Permission, frozenset[OperatorRole]]] = {
    Permission.VIEW: _ALL,
    Permission.REPLAY: _ACTING,
    Permission.PAUSE: _ACTING,
    Permission.DEAD_LETTER: _ACTING,
    Permission.MANAGE_OPERATORS: frozenset({OperatorRole.ADMIN}),
    Permission.READ_AUDIT: frozenset({OperatorRole.AUDITOR}),
    Permission.UNMASK: frozenset({OperatorRole.AUDITOR}),
}

# Usernames are ids in the audit trail: no spaces, nothing that could be patient data.
USERNAME: Final = re.compile(r"[a-z][a-z0-9._-]{1,47}")

OpsActor = OperatorActor | Principal


def role_of(actor: OpsActor) -> OperatorRole:
    """The console role an actor acts with; an OAuth client must be an operator client with the operations scope."""
    if isinstance(actor, Principal):
        require_role(actor, Role.OPERATOR, scopes=("operations",))
        return OperatorRole.OPERATOR
    if actor.organisation_ods is not None:
        raise ForbiddenError(
            f"{actor.organisation_ods}'s staff see their own patients only, not the gateway's operations"
        )
    return OperatorRole(actor.role)


def can(actor: OpsActor, permission: Permission) -> bool:
    try:
        return role_of(actor) in GRANTS[permission]
    except ForbiddenError:
        return False


def require_permission(actor: OpsActor, permission: Permission) -> None:
    """ForbiddenError unless the actor's role grants `permission`."""
    role = role_of(actor)
    if role not in GRANTS[permission]:
        allowed = ", ".join(sorted(r.value for r in GRANTS[permission]))
        raise ForbiddenError(f"the {role.value} role may not {permission.value} (needs {allowed})")
