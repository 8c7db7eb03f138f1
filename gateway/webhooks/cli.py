"""`hgw webhooks …`: trust and provider webhook subscriptions from the command line (acting as the gateway itself).
JSON out."""

from __future__ import annotations

import sys
from typing import Any

import click

from gateway import audit
from gateway.cli_support import PLAIN as out
from gateway.context import Gateway
from gateway.webhooks import payload
from gateway.webhooks import subscriptions as service


@click.group()
def webhooks() -> None:
    """Webhooks: signed lifecycle events pushed to each trust's URL, invoice decisions to each provider's."""


@webhooks.command("add")
@click.option("--trust", "trust_ods", help="The trust's ODS code: whose lifecycle events are sent.")
@click.option("--provider", "provider_ods", help="Or a provider's ODS code: the decisions on its invoices are sent.")
@click.option("--url", required=True, help="Where to POST them (https; http to loopback in demo and test mode).")
@click.option("--format", "fmt", type=click.Choice(payload.FORMATS), required=True)
@click.option("--event", "events", multiple=True, help="Only this event kind (repeatable); default: every event.")
@click.option("--inactive", is_flag=True, help="Create it switched off.")
@click.option("--max-attempts", type=click.IntRange(1, 1000))
@click.option("--max-age", type=click.IntRange(1), help="Seconds after which an event is given up.")
@click.option("--base", type=click.FloatRange(0.001), help="Seconds: the first backoff's ceiling.")
@click.option("--cap", type=click.FloatRange(0.001), help="Seconds: the longest backoff.")
@click.pass_context
def webhooks_add(
    ctx: click.Context,
    trust_ods: str | None,
    provider_ods: str | None,
    url: str,
    fmt: str,
    events: tuple[str, ...],
    inactive: bool,
    max_attempts: int | None,
    max_age: int | None,
    base: float | None,
    cap: float | None,
) -> None:
    """Subscribe URL to a trust's lifecycle events (--trust) or a provider's invoice decisions (--provider);
    prints the subscription (its id) as one JSON object."""
    change = service.SubscriptionChange(
        url=url, format=fmt, events=list(events) or None, active=not inactive, trust_ods=trust_ods,
        provider_ods=provider_ods,
    )

    async def work(gw: Gateway) -> dict[str, Any]:
        sub = await service.add_subscription(
            gw, audit.SYSTEM, change, max_attempts=max_attempts, max_age_seconds=max_age,
            backoff_base_seconds=base, backoff_cap_seconds=cap,
        )
        return service.subscription_json(sub, gw)

    out.emit(out.run(ctx, work))


@webhooks.command("list")
@click.option("--trust", "trust_ods", help="Only this trust's.")
@click.option("--provider", "provider_ods", help="Only this provider's.")
@click.pass_context
def webhooks_list(ctx: click.Context, trust_ods: str | None, provider_ods: str | None) -> None:
    """Every subscription (or one trust's, or one provider's)."""

    async def work(gw: Gateway) -> list[dict[str, Any]]:
        subs = await service.list_subscriptions(gw, audit.SYSTEM, trust_ods=trust_ods, provider_ods=provider_ods)
        return [service.subscription_json(s, gw) for s in subs]

    out.emit(out.run(ctx, work))


@webhooks.command("remove")
@click.argument("subscription_id")
@click.pass_context
def webhooks_remove(ctx: click.Context, subscription_id: str) -> None:
    """Delete a subscription and the events still owed to it."""
    out.run(ctx, lambda gw: service.remove_subscription(gw, audit.SYSTEM, subscription_id))
    out.emit({"id": subscription_id, "removed": True})


@webhooks.command("test")
@click.argument("subscription_id")
@click.pass_context
def webhooks_test(ctx: click.Context, subscription_id: str) -> None:
    """POST one signed webhook-test event now and print the answer; exit 1 unless it was delivered."""
    result = out.run(ctx, lambda gw: service.send_test(gw, audit.SYSTEM, subscription_id))
    out.emit(result.as_json())
    if result.outcome != "delivered":
        sys.exit(1)


@webhooks.command("deliveries")
@click.argument("subscription_id")
@click.option("--state", type=click.Choice(service.DELIVERY_STATES))
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.pass_context
def webhooks_deliveries(ctx: click.Context, subscription_id: str, state: str | None, limit: int) -> None:
    """The events owed to a subscription: state, attempts, and why the last attempt failed (dead letters)."""
    rows = out.run(ctx, lambda gw: service.list_deliveries(gw, audit.SYSTEM, subscription_id, state=state, limit=limit))
    out.emit([service.delivery_json(r) for r in rows])


@webhooks.command("replay")
@click.argument("subscription_id")
@click.pass_context
def webhooks_replay(ctx: click.Context, subscription_id: str) -> None:
    """Queue a subscription's dead letters again."""
    count = out.run(ctx, lambda gw: service.replay_dead(gw, audit.SYSTEM, subscription_id))
    out.emit({"id": subscription_id, "replayed": count})
