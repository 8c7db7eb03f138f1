"""Who an audit record names: an authenticated client, or the gateway itself."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.security.principal import Principal


@dataclass(frozen=True, slots=True)
class SystemActor:
    """The gateway acting on its own (a scheduler, the local `hgw` command line): no client, no tenant."""

    name: str = "gateway"


SYSTEM = SystemActor()

# The audit client id of a console operator: their username after this prefix.
OPERATOR_PREFIX = "operator:"


@dataclass(frozen=True, slots=True)
class OperatorActor:
    """A person signed in to the operator console, with their console role (viewer, operator, admin, auditor)."""

    username: str
    role: str


Actor = Principal | SystemActor | OperatorActor


@dataclass(frozen=True, slots=True)
class ActorColumns:
    client_id: str
    role: str
    ods: str | None


def actor_columns(actor: Actor) -> ActorColumns:
    if isinstance(actor, SystemActor):
        return ActorColumns(client_id=f"system:{actor.name}", role="system", ods=None)
    if isinstance(actor, OperatorActor):
        return ActorColumns(client_id=f"{OPERATOR_PREFIX}{actor.username}", role=actor.role, ods=None)
    return ActorColumns(client_id=actor.client_id, role=actor.role.value, ods=actor.ods)
