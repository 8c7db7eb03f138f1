"""Who an audit record names: an authenticated client, or the gateway itself."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.principal import Principal


@dataclass(frozen=True, slots=True)
class SystemActor:
    """The gateway acting on its own (a scheduler, the local `hgw` command line): no client, no tenant."""

    name: str = "gateway"


SYSTEM = SystemActor()

# The audit client id of a console operator: their username after this prefix.
OPERATOR_PREFIX = "operator:"


@dataclass(frozen=True, slots=True)
class OperatorActor:
    """A person signed in to the console, with their console role (viewer, operator, admin, auditor). Staff of a
    trust or a provider carry their organisation (`organisation_kind` trust or provider) and see only its own
    (docs/console.md, "One portal"); the gateway's operators carry none and see all."""

    username: str
    role: str
    organisation_ods: str | None = None
    organisation_kind: str | None = None


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
