"""Tenancy: what a caller may see of reports and lists (KPIs, patients at risk, the portal). A trust sees its own,
a provider its own, an operator all; naming another tenant is refused (403), never quietly answered with nothing.
"""

from __future__ import annotations

from gateway.audit.actor import Actor, OperatorActor
from gateway.domain.principal import READ, Principal, Role, require_role, require_same_tenant
from gateway.errors import ForbiddenError
from gateway.security.operators import Permission, require_permission
from gateway.store.kpis import Scope


def visible_scope(principal: Actor, provider_ods: str | None, trust_ods: str | None) -> Scope:
    """The caller's filters narrowed to its tenancy: a trust sees its own, a provider its own, an operator all.
    Naming another tenant is refused (403), never quietly answered with nothing. A console operator (any role with
    the view permission) and the gateway itself (`audit.SYSTEM`: the `hgw` command line) see all, as an operator."""
    if isinstance(principal, OperatorActor) and principal.organisation_ods is not None:
        return _organisation_scope(principal, provider_ods, trust_ods)
    if not isinstance(principal, Principal):
        if isinstance(principal, OperatorActor):
            require_permission(principal, Permission.VIEW)
        return Scope(provider_ods=provider_ods, trust_ods=trust_ods)
    require_role(principal, Role.TRUST, Role.PROVIDER, Role.OPERATOR, scopes=READ)
    if principal.role is Role.TRUST:
        if trust_ods is not None:
            require_same_tenant(principal, trust_ods, "the trust parameter")
        trust_ods = principal.ods
    elif principal.role is Role.PROVIDER:
        if provider_ods is not None:
            require_same_tenant(principal, provider_ods, "the provider parameter")
        provider_ods = principal.ods
    return Scope(provider_ods=provider_ods, trust_ods=trust_ods)


def _organisation_scope(actor: OperatorActor, provider_ods: str | None, trust_ods: str | None) -> Scope:
    """A trust's or a provider's console user: its own, exactly as the API's trust and provider clients."""
    own = actor.organisation_ods or ""
    named = trust_ods if actor.organisation_kind == "trust" else provider_ods
    if named is not None and named != own:
        raise ForbiddenError(f"{actor.username} acts for {own}, not {named}")
    if actor.organisation_kind == "trust":
        return Scope(provider_ods=provider_ods, trust_ods=own)
    return Scope(provider_ods=own, trust_ods=trust_ods)
