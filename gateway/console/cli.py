"""`hgw operators …` (console accounts) and `hgw messages …` (the console's message browser on the command line).

Output is JSON; commands that create something print one JSON object. Account changes are audited as
`system:cli`; message reads as `operator:cli` with the viewer role: patient data stays masked here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import click

from gateway import audit
from gateway.audit.actor import OperatorActor
from gateway.errors import GatewayError, InputError
from gateway.security.operators import OperatorRole
from gateway.services import message_view, operations, operators
from gateway.services.context import Gateway, build_gateway
from gateway.settings import Settings

T = TypeVar("T")
CLI = audit.SystemActor("cli")
# The local command line reads what a viewer may read, masked: it is not a way around unmasking.
CLI_VIEWER = OperatorActor("cli", OperatorRole.VIEWER.value)


def _run(ctx: click.Context, work: Callable[[Gateway], Awaitable[T]]) -> T:
    settings: Settings = ctx.obj

    async def main() -> T:
        gw = build_gateway(settings)
        try:
            return await work(gw)
        finally:
            await gw.close()

    try:
        return asyncio.run(main())
    except GatewayError as exc:
        _fail(exc)


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


def _fail(exc: GatewayError) -> NoReturn:
    issues = exc.issues if isinstance(exc, InputError) else []
    _emit({"error": exc.code, "message": str(exc), "issues": [i.as_dict() for i in issues]})
    sys.exit(1)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    env = os.environ.get("HGW_OPERATOR_PASSWORD")
    if env:
        return env
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


@click.group("operators")
def operators_group() -> None:
    """Console operators: add, list, change role, disable."""


@operators_group.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in OperatorRole]))
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def operators_add(ctx: click.Context, username: str, role: str, password_stdin: bool) -> None:
    """Add an operator. The password comes from --password-stdin, HGW_OPERATOR_PASSWORD, or a prompt."""
    password = _password(password_stdin)
    info = _run(ctx, lambda gw: operators.add_operator(gw, username=username, role=role, password=password, actor=CLI))
    _emit(info.as_json())


@operators_group.command("list")
@click.pass_context
def operators_list(ctx: click.Context) -> None:
    """Every operator, with role and state (never a password hash)."""
    _emit([o.as_json() for o in _run(ctx, lambda gw: operators.list_operators(gw, CLI))])


@operators_group.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in OperatorRole]))
@click.option("--disable/--enable", "disable", default=None, help="Disable (or enable again) the account.")
@click.pass_context
def operators_set(ctx: click.Context, username: str, role: str | None, disable: bool | None) -> None:
    """Change an operator's role or disable/enable them; their sessions end at once."""
    active = None if disable is None else not disable
    info = _run(ctx, lambda gw: operators.update_operator(gw, username, role=role, active=active, actor=CLI))
    _emit(info.as_json())


def _time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("an ISO 8601 time, e.g. 2026-11-22T09:00:00+00:00") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group("messages")
def messages_group() -> None:
    """Browse messages and show one, as the console does (patient data masked)."""


@messages_group.command("list")
@click.option("--from", "date_from", callback=_time, help="Created at or after (ISO 8601).")
@click.option("--to", "date_to", callback=_time, help="Created before (ISO 8601).")
@click.option("--state", type=click.Choice(operations.STATE_COLUMNS))
@click.option("--provider", help="Provider ODS code.")
@click.option("--trust", help="Trust ODS code.")
@click.option("--prescription", "prescription_id", help="Long-form, short-form or message id.")
@click.option("--nhs-number-stdin", is_flag=True, help="Read an NHS number from stdin (kept out of shell history).")
@click.option("--error-class", help="A delivery attempt outcome, e.g. timeout.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--page-size", type=click.Choice(["25", "50", "100"]), default="50", show_default=True)
@click.pass_context
def messages_list(
    ctx: click.Context,
    date_from: datetime | None,
    date_to: datetime | None,
    state: str | None,
    provider: str | None,
    trust: str | None,
    prescription_id: str | None,
    nhs_number_stdin: bool,
    error_class: str | None,
    page: int,
    page_size: str,
) -> None:
    """One page of messages matching the filters, newest first."""
    nhs = sys.stdin.readline().strip() if nhs_number_stdin else None
    query = operations.BrowseQuery(
        date_from=date_from,
        date_to=date_to,
        state=state,
        provider_ods=provider,
        trust_ods=trust,
        prescription_id=prescription_id,
        nhs_number=nhs,
        error_class=error_class,
        page=page,
        page_size=int(page_size),
    )
    result = _run(ctx, lambda gw: operations.browse(gw, CLI_VIEWER, query))
    result.pop("nhs_index", None)
    result.pop("choices", None)
    _emit(result)


@messages_group.command("show")
@click.argument("message_id")
@click.pass_context
def messages_show(ctx: click.Context, message_id: str) -> None:
    """A message: raw input and FHIR bundle (masked), delivery attempts and the prescription's timeline."""
    _emit(_run(ctx, lambda gw: message_view.message_detail(gw, CLI_VIEWER, message_id)))


@click.command("dismiss")
@click.argument("message_id")
@click.pass_context
def queue_dismiss(ctx: click.Context, message_id: str) -> None:
    """Set a dead-lettered message aside (handled outside the gateway; it is never sent)."""
    actor = OperatorActor("cli", OperatorRole.OPERATOR.value)
    _emit(_run(ctx, lambda gw: operations.dismiss_dead_letter(gw, actor, message_id)))
