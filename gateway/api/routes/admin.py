"""The operator API for routing: providers, routing rules and the prescriptions held for want of a route.

JSON in and out; operators only (the services check the role); every change audited. docs/delivery.md.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.idempotency import Idempotency
from gateway.api.json_body import StrictBody, body_doc, parse_body
from gateway.context import Gateway
from gateway.operations import admin
from gateway.operations import overview as operations
from gateway.store.tables import Prescription, Provider, RoutingRule

router = APIRouter(prefix="/api/v1/admin", tags=["operator"])
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
Body = Annotated[bytes, Depends(read_body)]
# Rule ids are 32-bit integers in the store: a larger one is a bad id, not a query PostgreSQL cannot run.
RuleId = Annotated[int, Path(ge=1, le=2_147_483_647, description="routing rule id")]


class NewProvider(StrictBody):
    ods: str = Field(max_length=12)
    name: str = Field(max_length=200)
    mode: Literal["push", "pull"]
    endpoint: str | None = Field(default=None, max_length=2000)


class ProviderChange(StrictBody):
    name: str | None = Field(default=None, max_length=200)
    mode: Literal["push", "pull"] | None = None
    endpoint: str | None = Field(default=None, max_length=2000, description="null removes it (pull providers)")
    active: bool | None = None


class NewRule(StrictBody):
    provider_ods: str = Field(max_length=12)
    trust_ods: str | None = Field(default=None, max_length=12)
    dmd_code: str | None = Field(default=None, max_length=18)
    service_type: str | None = Field(default=None, max_length=24)
    priority: int = 100


class RuleChange(StrictBody):
    provider_ods: str | None = Field(default=None, max_length=12)
    trust_ods: str | None = Field(default=None, max_length=12, description="null: any trust")
    dmd_code: str | None = Field(default=None, max_length=18, description="null: any product")
    service_type: str | None = Field(default=None, max_length=24, description="null: any service")
    priority: int | None = None


def provider_json(p: Provider) -> dict[str, Any]:
    return {
        "ods": p.ods,
        "name": p.name,
        "mode": p.mode,
        "endpoint": p.endpoint,
        "active": p.active,
        "paused": p.paused,
        "last_poll_at": p.last_poll_at.isoformat() if p.last_poll_at else None,
        "created_at": p.created_at.isoformat(),
    }


def rule_json(r: RoutingRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "priority": r.priority,
        "provider_ods": r.provider_ods,
        "trust_ods": r.trust_ods,
        "dmd_code": r.dmd_code,
        "service_type": r.service_type,
        "created_at": r.created_at.isoformat(),
    }


def held_json(p: Prescription) -> dict[str, Any]:
    return {
        "id": p.id,
        "short_form_id": p.short_form_id,
        "trust_ods": p.trust_ods,
        "rx_number": p.rx_number,
        "rx_version": p.rx_version,
        "reason": p.route_reason,
        "updated_at": p.updated_at.isoformat(),
    }


@router.get("/providers", summary="Registered homecare providers")
async def list_providers(gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"providers": [provider_json(p) for p in await admin.providers(gw, principal)]}


@router.post("/providers", status_code=201, summary="Register a provider", openapi_extra=body_doc(NewProvider))
async def add_provider(body: Body, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    new = parse_body(body, NewProvider)
    provider = await admin.add_provider(
        gw, ods=new.ods, name=new.name, mode=new.mode, endpoint=new.endpoint, actor=principal
    )
    return provider_json(provider)


@router.patch(
    "/providers/{ods}",
    summary="Change a provider's name, mode, endpoint or active flag",
    openapi_extra=body_doc(ProviderChange),
)
async def update_provider(ods: str, body: Body, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    change = parse_body(body, ProviderChange)
    provider = await admin.update_provider(
        gw,
        ods,
        name=change.name,
        mode=change.mode,
        endpoint=change.endpoint if "endpoint" in change.model_fields_set else admin.KEEP,
        active=change.active,
        actor=principal,
    )
    return provider_json(provider)


@router.post("/providers/{ods}/pause", summary="Hold push delivery to a provider")
async def pause_provider(ods: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return provider_json(await operations.pause_provider(gw, principal, ods, True))


@router.post("/providers/{ods}/resume", summary="Resume push delivery to a provider")
async def resume_provider(ods: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return provider_json(await operations.pause_provider(gw, principal, ods, False))


@router.get("/routes", summary="Routing rules, in the order they are tried")
async def list_routes(gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"routes": [rule_json(r) for r in await admin.routes(gw, principal)]}


@router.post("/routes", status_code=201, summary="Add a routing rule", openapi_extra=body_doc(NewRule))
async def add_route(body: Body, gw: GatewayDep, principal: CurrentPrincipal, idem: Idempotency) -> Response:
    async def answer() -> Response:
        new = parse_body(body, NewRule)
        rule = await admin.add_route(
            gw,
            provider_ods=new.provider_ods,
            trust_ods=new.trust_ods,
            dmd_code=new.dmd_code,
            service_type=new.service_type,
            priority=new.priority,
            actor=principal,
        )
        return JSONResponse(rule_json(rule), status_code=201)

    return await idem.run(answer)  # rules may repeat, so a retried add with the same key must not add twice


@router.patch("/routes/{rule_id}", summary="Change a routing rule", openapi_extra=body_doc(RuleChange))
async def update_route(rule_id: RuleId, body: Body, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    change = parse_body(body, RuleChange)
    given = change.model_fields_set
    rule = await admin.update_route(
        gw,
        rule_id,
        provider_ods=change.provider_ods,
        trust_ods=change.trust_ods if "trust_ods" in given else admin.KEEP,
        dmd_code=change.dmd_code if "dmd_code" in given else admin.KEEP,
        service_type=change.service_type if "service_type" in given else admin.KEEP,
        priority=change.priority,
        actor=principal,
    )
    return rule_json(rule)


@router.delete("/routes/{rule_id}", status_code=204, summary="Remove a routing rule")
async def remove_route(rule_id: RuleId, gw: GatewayDep, principal: CurrentPrincipal) -> Response:
    await admin.remove_route(gw, rule_id, actor=principal)
    return Response(status_code=204)


@router.get("/held", summary="Prescriptions held for want of a route, with the reason")
async def list_held(
    gw: GatewayDep, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> dict[str, Any]:
    return {"held": [held_json(p) for p in await admin.held(gw, principal, limit=limit)]}


@router.post("/held/route", summary="Route the held prescriptions again with today's rules and providers")
async def route_held(
    gw: GatewayDep, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> dict[str, Any]:
    outcomes = await admin.route_held(gw, principal, limit=limit)
    return {"routed": [dataclasses.asdict(o) for o in outcomes]}
