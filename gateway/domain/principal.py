"""Who is calling: the tenant always comes from here, never from a payload."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    TRUST = "trust"
    PROVIDER = "provider"
    OPERATOR = "operator"
    TESTER = "tester"


ROLE_SCOPES: dict[Role, tuple[str, ...]] = {
    Role.TRUST: ("prescriptions:write", "prescriptions:read", "fhir:validate"),
    Role.PROVIDER: ("orders:release", "orders:update", "fhir:validate"),
    Role.OPERATOR: ("prescriptions:read", "operations", "fhir:validate"),
    Role.TESTER: ("fhir:validate",),
}


@dataclass(frozen=True, slots=True)
class Principal:
    client_id: str
    role: Role
    ods: str
    scopes: frozenset[str]

    def sees_trust(self, trust_ods: str) -> bool:
        """A trust sees only its own prescriptions; operators see all."""
        return self.role is Role.OPERATOR or (self.role is Role.TRUST and self.ods == trust_ods)


def require_role(principal: Principal, *roles: Role, scopes: tuple[str, ...] = ()) -> None:
    """ForbiddenError unless the principal has one of `roles` and, when given, one of `scopes` in its token."""
    from gateway.errors import ForbiddenError

    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise ForbiddenError(f"a {principal.role.value} client may not do this (needs {allowed})")
    if scopes and not principal.scopes & set(scopes):
        raise ForbiddenError(f"the access token lacks the scope this needs ({' or '.join(scopes)})")


READ = ("prescriptions:read", "orders:update")  # trusts and operators read; a provider reads what it serves
WRITE = ("prescriptions:write",)
RELEASE = ("orders:release",)
UPDATE = ("orders:update",)


def require_same_tenant(principal: Principal, claimed_ods: str, where: str) -> None:
    """A payload may name an organisation, but only the caller's own: the tenant comes from the token."""
    from gateway.errors import ForbiddenError

    if claimed_ods.upper() != principal.ods:
        raise ForbiddenError(f"{where} names {claimed_ods}, but this client acts for {principal.ods}")
