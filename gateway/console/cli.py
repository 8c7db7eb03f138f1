"""`hgw operators …` (console accounts) and `hgw messages …` (the console's message browser on the command line).

Output is JSON; commands that create something print one JSON object. Account changes are audited as
`system:cli`; message reads as `operator:cli` with the viewer role: patient data stays masked here.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

import click

from gateway import audit
from gateway.audit.actor import OperatorActor
from gateway.cli_support import ISO_TIMES as out
from gateway.cli_support import iso_time
from gateway.operations import message_view, operators
from gateway.operations import overview as operations
from gateway.security.operators import OperatorRole

CLI = audit.SystemActor("cli")
# The local command line reads what a viewer may read, masked: it is not a way around unmasking.
CLI_VIEWER = OperatorActor("cli", OperatorRole.VIEWER.value)


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
@click.option("--organisation", help="ODS code of the trust or provider this user works for (default: the gateway)")
@click.option("--organisation-kind", type=click.Choice(["trust", "provider"]))
@click.pass_context
def operators_add(
    ctx: click.Context,
    username: str,
    role: str,
    password_stdin: bool,
    organisation: str | None,
    organisation_kind: str | None,
) -> None:
    """Add an operator, or a trust's or provider's user (--organisation, --organisation-kind). The password comes
    from --password-stdin, HGW_OPERATOR_PASSWORD, or a prompt."""
    password = _password(password_stdin)
    info = out.run(
        ctx,
        lambda gw: operators.add_operator(
            gw,
            username=username,
            role=role,
            password=password,
            actor=CLI,
            organisation=organisation,
            organisation_kind=organisation_kind,
        ),
    )
    out.emit(info.as_json())


@operators_group.command("list")
@click.pass_context
def operators_list(ctx: click.Context) -> None:
    """Every operator, with role and state (never a password hash)."""
    out.emit([o.as_json() for o in out.run(ctx, lambda gw: operators.list_operators(gw, CLI))])


@operators_group.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in OperatorRole]))
@click.option("--disable/--enable", "disable", default=None, help="Disable (or enable again) the account.")
@click.pass_context
def operators_set(ctx: click.Context, username: str, role: str | None, disable: bool | None) -> None:
    """Change an operator's role or disable/enable them; their sessions end at once."""
    active = None if disable is None else not disable
    info = out.run(ctx, lambda gw: operators.update_operator(gw, username, role=role, active=active, actor=CLI))
    out.emit(info.as_json())


@click.group("messages")
def messages_group() -> None:
    """Browse messages and show one, as the console does (patient data masked)."""


@messages_group.command("list")
@click.option("--from", "date_from", callback=iso_time, help="Created at or after (ISO 8601).")
@click.option("--to", "date_to", callback=iso_time, help="Created before (ISO 8601).")
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
    result = out.run(ctx, lambda gw: operations.browse(gw, CLI_VIEWER, query))
    result.pop("nhs_index", None)
    result.pop("choices", None)
    out.emit(result)


@messages_group.command("show")
@click.argument("message_id")
@click.pass_context
def messages_show(ctx: click.Context, message_id: str) -> None:
    """A message: raw input and FHIR bundle (masked), delivery attempts and the prescription's timeline."""
    out.emit(out.run(ctx, lambda gw: message_view.message_detail(gw, CLI_VIEWER, message_id)))


@click.command("dismiss")
@click.argument("message_id")
@click.pass_context
def queue_dismiss(ctx: click.Context, message_id: str) -> None:
    """Set a dead-lettered message aside (handled outside the gateway; it is never sent)."""
    actor = OperatorActor("cli", OperatorRole.OPERATOR.value)
    out.emit(out.run(ctx, lambda gw: operations.dismiss_dead_letter(gw, actor, message_id)))
