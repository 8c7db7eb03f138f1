"""`hgw queue …`, `hgw replay …` and `hgw worker`: the delivery queue and its push workers from the command line.

Output is JSON, apart from `hgw worker`, which runs until stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import click

from gateway.cli_support import ISO_TIMES as out
from gateway.cli_support import iso_time, settings_of
from gateway.delivery import queue as queue_service
from gateway.delivery import replay as replay_service
from gateway.delivery.policy import RetryPolicy
from gateway.wiring import build_gateway


def _policy_json(policy: RetryPolicy) -> dict[str, object]:
    return {
        "max_attempts": policy.max_attempts,
        "max_age_seconds": int(policy.max_age.total_seconds()),
        "backoff_base_seconds": policy.base.total_seconds(),
        "backoff_cap_seconds": policy.cap.total_seconds(),
    }


@click.group()
def queue() -> None:
    """The delivery queue: list, counts, pause and resume push delivery, retry policies."""


@queue.command("list")
@click.option("--state", type=click.Choice(queue_service.STATES))
@click.option("--provider", "provider_ods", help="A provider's ODS code.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.pass_context
def queue_list(ctx: click.Context, state: str | None, provider_ods: str | None, limit: int) -> None:
    """Messages in the outbox, oldest first (ids, state and timing; never the message)."""
    rows = out.run(ctx, lambda gw: queue_service.list_queue(gw, state=state, provider_ods=provider_ods, limit=limit))
    out.emit([dataclasses.asdict(row) for row in rows])


@queue.command("stats")
@click.pass_context
def queue_stats(ctx: click.Context) -> None:
    """Per provider: messages in each state, and since when the oldest waiting one has waited."""
    out.emit(out.run(ctx, queue_service.queue_stats))


@queue.command("pause")
@click.argument("provider_ods")
@click.pass_context
def queue_pause(ctx: click.Context, provider_ods: str) -> None:
    """Hold push delivery to a provider; its messages wait in the queue."""
    provider = out.run(ctx, lambda gw: queue_service.set_paused(gw, provider_ods, True))
    out.emit({"provider": provider.ods, "paused": provider.paused})


@queue.command("resume")
@click.argument("provider_ods")
@click.pass_context
def queue_resume(ctx: click.Context, provider_ods: str) -> None:
    """Resume push delivery to a provider."""
    provider = out.run(ctx, lambda gw: queue_service.set_paused(gw, provider_ods, False))
    out.emit({"provider": provider.ods, "paused": provider.paused})


@queue.command("policy")
@click.argument("provider_ods")
@click.option("--max-attempts", type=click.IntRange(1, 1000))
@click.option("--max-age", type=click.IntRange(1), help="Seconds after which a message is given up.")
@click.option("--base", type=click.FloatRange(0.001), help="Seconds: the first backoff's ceiling.")
@click.option("--cap", type=click.FloatRange(0.001), help="Seconds: the longest backoff.")
@click.pass_context
def queue_policy(
    ctx: click.Context,
    provider_ods: str,
    max_attempts: int | None,
    max_age: int | None,
    base: float | None,
    cap: float | None,
) -> None:
    """Show a provider's push retry policy, or change the parts given."""
    if max_attempts is None and max_age is None and base is None and cap is None:
        policy = out.run(ctx, lambda gw: queue_service.retry_policy(gw, provider_ods))
    else:
        policy = out.run(
            ctx,
            lambda gw: queue_service.set_retry_policy(
                gw,
                provider_ods,
                max_attempts=max_attempts,
                max_age=timedelta(seconds=max_age) if max_age else None,
                base=timedelta(seconds=base) if base else None,
                cap=timedelta(seconds=cap) if cap else None,
            ),
        )
    out.emit({"provider": provider_ods.upper(), **_policy_json(policy)})


@click.command()
@click.argument("message_id", required=False)
@click.option("--provider", "provider_ods", help="Only this provider's messages.")
@click.option("--state", type=click.Choice(replay_service.REPLAYABLE), default="dead", show_default=True)
@click.option("--since", callback=iso_time, help="Only messages that failed at or after this time (ISO 8601).")
@click.option("--limit", type=click.IntRange(1, replay_service.MAX_REPLAY), default=replay_service.MAX_REPLAY)
@click.option("--dry-run", is_flag=True, help="Show what would be replayed and change nothing.")
@click.pass_context
def replay(
    ctx: click.Context,
    message_id: str | None,
    provider_ods: str | None,
    state: str,
    since: datetime | None,
    limit: int,
    dry_run: bool,
) -> None:
    """Queue dead or rejected messages again: MESSAGE_ID, or every one matching the filters."""
    if message_id is not None:
        if provider_ods or since:
            raise click.UsageError("give a MESSAGE_ID or filters, not both")
        report = out.run(ctx, lambda gw: replay_service.replay_message(gw, message_id, dry_run=dry_run))
    else:
        report = out.run(
            ctx,
            lambda gw: replay_service.replay_matching(
                gw, state=state, provider_ods=provider_ods, since=since, limit=limit, dry_run=dry_run
            ),
        )
    out.emit(report.as_json())


@click.command()
@click.option("--count", type=int, help="Worker loops in this process [default: HGW_PUSH_WORKERS, at least 1].")
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between looks when idle.")
@click.pass_context
def worker(ctx: click.Context, count: int | None, poll: float) -> None:
    """Deliver push orders in this process, without the HTTP server; run one per machine or core (PostgreSQL)."""
    from gateway.delivery.process import run_worker_process
    from gateway.logs import configure_logging

    settings = settings_of(ctx)
    configure_logging(settings.log_level)
    loops = count if count is not None else max(settings.push_workers, 1)
    if loops < 1 or poll <= 0:
        raise click.BadParameter("--count must be at least 1 and --poll positive")

    async def main() -> None:
        await run_worker_process(build_gateway(settings), count=loops, poll=poll)

    asyncio.run(main())
