"""EPS orders keep the ids their EPR gave them; one that reuses another prescription's ids is refused, located.

An EPS prescription-order arrives with its own MessageHeader id, long-form prescription id, short-form id and
line-item ids (`adapters.fhir.eps_ids`). A resend of the same order reuses them all and is a duplicate (the
planner's business). An order that reuses one of them for a *different* prescription would overwrite or collide
with the earlier one: it is refused with a located error naming the earlier prescription and message, before
anything is written (never a store conflict, never a 500).
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.base import ParsedPrescription
from gateway.domain.model import Action
from gateway.errors import Issue, Location
from gateway.intake.planning import Arrived, Key
from gateway.store import id_lookup

DUPLICATE_ID = "DUPLICATE_ID"


async def refuse_reused_ids(
    session: AsyncSession, parsed: list[ParsedPrescription], arrived: dict[Key, Arrived]
) -> None:
    """Mark each new EPS order whose ids are already another prescription's as rejected (its issues say where)."""
    for pp in parsed:
        p = pp.prescription
        if p is None or p.action is not Action.NEW or p.key not in arrived:
            continue
        found = await _conflicts(session, arrived[p.key])
        if found:
            pp.issues.extend(found)
            pp.prescription = None
            del arrived[p.key]


async def _conflicts(session: AsyncSession, order: Arrived) -> list[Issue]:
    ids, bundle = order.ids, order.bundle
    mine = ids.prescription_id
    issues: list[Issue] = []
    earlier = await id_lookup.message_owner(session, ids.message_id)
    if earlier is not None and earlier.prescription_id != mine:
        issues.append(_issue(_header_path(bundle), ids.message_id, "this MessageHeader id is already that of an "
                             f"earlier message, of {await _named(session, earlier.prescription_id)}"))
    for row in await id_lookup.prescriptions_named(session, mine, ids.short_form_id):
        if row.id == mine and row.short_form_id == ids.short_form_id:
            continue  # the same prescription again: a resend or a new version, which the planner judges
        if row.id == mine:
            issues.append(_issue(_group_path(bundle, "extension[0].valueIdentifier.value"), mine,
                                 f"this long-form prescription id is already that of {await _named(session, row.id)}"))
        else:
            issues.append(_issue(_group_path(bundle, "value"), ids.short_form_id,
                                 f"this short-form prescription id is already that of {await _named(session, row.id)}"))
    owners = await id_lookup.item_owners(session, list(ids.item_ids.values()))
    for line_no, item_id in sorted(ids.item_ids.items()):
        owner = owners.get(item_id)
        if owner is not None and owner != mine:
            issues.append(_issue(_item_path(bundle, line_no), item_id,
                                 f"this line-item id is already an item of {await _named(session, owner)}"))
    return issues


async def _named(session: AsyncSession, prescription_id: str | None) -> str:
    """'prescription <short-form> (message <id>)': how an error names the earlier prescription."""
    if prescription_id is None:
        return "another message"
    short_form, message_id = await id_lookup.prescription_and_first_message(session, prescription_id)
    return f"prescription {short_form} (message {message_id})" if message_id else f"prescription {short_form}"


def _issue(path: str, value: str, message: str) -> Issue:
    return Issue(code=DUPLICATE_ID, message=message, location=Location(path=path), value=value,
                 expected="an id no other prescription or message uses")


def _header_path(bundle: dict[str, Any]) -> str:
    entries = bundle.get("entry")
    header = entries[0].get("resource") if isinstance(entries, list) and entries else None
    return "Bundle.entry[0].resource.id" if isinstance(header, dict) and "id" in header else "Bundle.id"


def _requests(bundle: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    entries = bundle.get("entry")
    return [
        (index, entry["resource"])
        for index, entry in enumerate(entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") == "MedicationRequest"
    ]


def _group_path(bundle: dict[str, Any], tail: str) -> str:
    requests = _requests(bundle)
    index = requests[0][0] if requests else 0
    return f"Bundle.entry[{index}].resource.groupIdentifier.{tail}"


def _item_path(bundle: dict[str, Any], line_no: int) -> str:
    requests = _requests(bundle)
    index = requests[line_no - 1][0] if 0 < line_no <= len(requests) else 0
    return f"Bundle.entry[{index}].resource.identifier"
