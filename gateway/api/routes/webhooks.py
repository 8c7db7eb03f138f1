"""Webhook subscriptions over JSON: a trust or a provider manages its own, an operator any (naming whose)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.idempotency import Idempotency
from gateway.context import Gateway
from gateway.webhooks import subscriptions as service

router = APIRouter(prefix="/api/v1/webhooks", tags=["trust", "provider"])
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


@router.post(
    "", status_code=201,
    summary="Subscribe a URL to the trust's status events, or to the provider's invoice decisions",
)
async def add_webhook(
    body: Annotated[bytes, Depends(read_body)], gw: GatewayDep, principal: CurrentPrincipal, idem: Idempotency
) -> Response:
    async def answer() -> Response:
        change = service.parse_change(body, creating=True)
        created = await service.add_subscription(gw, principal, change)
        return JSONResponse(service.subscription_json(created, gw), status_code=201)

    return await idem.run(answer)  # a retried subscribe with the same key does not subscribe twice


@router.get("", summary="The caller's own webhook subscriptions (an operator: every one, or ?trust= or ?provider=)")
async def list_webhooks(
    gw: GatewayDep,
    principal: CurrentPrincipal,
    trust: Annotated[str | None, Query(max_length=12, description="operators: one trust's ODS code")] = None,
    provider: Annotated[str | None, Query(max_length=12, description="operators: one provider's ODS code")] = None,
) -> dict[str, Any]:
    subs = await service.list_subscriptions(gw, principal, trust_ods=trust, provider_ods=provider)
    return {"webhooks": [service.subscription_json(s, gw) for s in subs]}


@router.get("/{webhook_id}", summary="One webhook subscription")
async def get_webhook(webhook_id: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return service.subscription_json(await service.get_subscription(gw, principal, webhook_id), gw)


@router.patch("/{webhook_id}", summary="Change a subscription's url, format, events or active flag")
async def update_webhook(
    webhook_id: str, request: Request, gw: GatewayDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    change = service.parse_change(await read_body(request), creating=False)
    return service.subscription_json(await service.update_subscription(gw, principal, webhook_id, change), gw)


@router.delete("/{webhook_id}", status_code=204, summary="Remove a subscription and the events still owed to it")
async def remove_webhook(webhook_id: str, gw: GatewayDep, principal: CurrentPrincipal) -> Response:
    await service.remove_subscription(gw, principal, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", summary="The events owed to a subscription and where each stands")
async def webhook_deliveries(
    webhook_id: str,
    gw: GatewayDep,
    principal: CurrentPrincipal,
    state: Annotated[str | None, Query(description="queued, leased, delivered or dead")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows = await service.list_deliveries(gw, principal, webhook_id, state=state, limit=limit)
    return {"deliveries": [service.delivery_json(r) for r in rows]}


@router.post("/{webhook_id}/replay", summary="Queue the subscription's dead letters again")
async def replay_webhook(webhook_id: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"replayed": await service.replay_dead(gw, principal, webhook_id)}


@router.post("/{webhook_id}/test", summary="Send one signed webhook-test event now and report the answer")
async def test_webhook(webhook_id: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return (await service.send_test(gw, principal, webhook_id)).as_json()
