"""Dispense notifications from providers (EPS shape): line-item and prescription status updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway import audit, lifecycle
from gateway.errors import NotFoundError
from gateway.fhir.inbound import SHORT_FORM_SYSTEM, MessageHeaderInfo, fail, require
from gateway.security.principal import Principal, Role, require_role
from gateway.services.context import Gateway
from gateway.store import repository
from gateway.store.sealed import message_context
from gateway.store.tables import FhirMessage, LifecycleEvent, Prescription

BUSINESS_STATUS_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-TaskBusinessStatus"
ITEM_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-item-number"


@dataclass(frozen=True, slots=True)
class DispensedLine:
    short_form_id: str
    item_id: str
    item_status: str
    prescription_status: str | None
    quantity: str | None


def read_dispenses(resources: list[dict[str, Any]], full_urls: list[str | None] | None = None) -> list[DispensedLine]:
    """One DispensedLine per MedicationDispense, resolving authorizingPrescription (contained or in the bundle).

    Bundle references resolve by each entry's fullUrl when given, else by `urn:uuid:<id>`.
    """
    urls = full_urls or [None] * len(resources)
    by_ref: dict[str, dict[str, Any]] = {}
    for url, r in zip(urls, resources, strict=True):
        if url:
            by_ref[url] = r
        if isinstance(r.get("id"), str):
            by_ref.setdefault(f"urn:uuid:{r['id']}", r)
    lines = []
    for index, res in enumerate(resources):
        if res.get("resourceType") != "MedicationDispense":
            continue
        path = f"Bundle.entry[{index}].resource"
        contained = {f"#{c.get('id')}": c for c in res.get("contained", []) if isinstance(c, dict)}
        auth = require(res, "authorizingPrescription", path, list)[0]
        ref = auth.get("reference") if isinstance(auth, dict) else None
        request = contained.get(ref or "") or by_ref.get(ref or "")
        if request is None:
            raise fail(
                f"{path}.authorizingPrescription[0].reference",
                "authorizingPrescription does not resolve",
                code="INVALID_REFERENCE",
                value=ref,
            )
        group = require(request, "groupIdentifier", f"{path}.authorizingPrescription.resolve()")
        if group.get("system") != SHORT_FORM_SYSTEM:
            raise fail(
                f"{path}.authorizingPrescription.resolve().groupIdentifier.system",
                "groupIdentifier must be the short-form prescription id",
                value=group.get("system"),
                expected=SHORT_FORM_SYSTEM,
            )
        item_ids = [i.get("value") for i in request.get("identifier", []) if i.get("system") == ITEM_NUMBER_SYSTEM]
        if not item_ids:
            raise fail(
                f"{path}.authorizingPrescription.resolve().identifier",
                "the line-item id is missing",
                code="MISSING_VALUE",
                expected=ITEM_NUMBER_SYSTEM,
            )
        codings = require(res, "type", path).get("coding") or [{}]
        item_status = codings[0].get("code") if isinstance(codings[0], dict) else None
        if item_status not in lifecycle.ITEM_STATUS:
            raise fail(
                f"{path}.type.coding[0].code",
                "unknown dispense type",
                value=item_status,
                expected=", ".join(lifecycle.ITEM_STATUS),
            )
        business = None
        for ext in res.get("extension", []):
            if ext.get("url") == BUSINESS_STATUS_URL:
                business = ext.get("valueCoding", {}).get("code")
        if business is not None and business not in lifecycle.PRESCRIPTION_STATUS:
            raise fail(
                f"{path}.extension('{BUSINESS_STATUS_URL}').valueCoding.code",
                "unknown prescription status",
                value=business,
                expected=", ".join(lifecycle.PRESCRIPTION_STATUS),
            )
        quantity = res.get("quantity", {}).get("value")
        lines.append(
            DispensedLine(
                str(group.get("value")),
                str(item_ids[0]),
                item_status,
                business,
                None if quantity is None else str(quantity),
            )
        )
    if not lines:
        raise fail(
            "Bundle.entry",
            "a dispense-notification carries at least one MedicationDispense",
            code="MISSING_VALUE",
            expected="MedicationDispense",
        )
    return lines


async def record_dispense(
    gw: Gateway,
    principal: Principal,
    header: MessageHeaderInfo,
    resources: list[dict[str, Any]],
    raw: bytes,
    *,
    full_urls: list[str | None] | None = None,
) -> bool:
    """Apply a dispense notification. Returns False when it was a resend of one already applied."""
    require_role(principal, Role.PROVIDER)
    provider_ods = principal.ods
    lines = read_dispenses(resources, full_urls)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        if await repository.get_by_id(session, FhirMessage, header.id) is not None:
            return False
        touched: dict[str, Prescription] = {}
        for line in lines:
            p = touched.get(line.short_form_id) or await repository.find_prescription(session, line.short_form_id)
            if p is None or p.provider_ods != provider_ods:
                raise NotFoundError(f"prescription {line.short_form_id} not found")
            touched[p.short_form_id] = p
            item = await repository.find_item(session, p.id, line.item_id)
            if item is None:
                raise NotFoundError(f"line item {line.item_id} of {line.short_form_id} not found")
            lifecycle.check_item_transition(item.status, line.item_status)
            item.status = line.item_status
            session.add(item)
            if line.prescription_status:
                lifecycle.check_prescription_transition(p.status, line.prescription_status)
                p.status = line.prescription_status
            session.add(
                LifecycleEvent(
                    prescription_id=p.id,
                    at=now,
                    kind="dispensed",
                    status=p.status,
                    actor_ods=provider_ods,
                    message_id=header.id,
                    detail=f"line {item.line_no}: {lifecycle.ITEM_STATUS[line.item_status]}"
                    + (f", quantity {line.quantity}" if line.quantity else ""),
                )
            )
        first = next(iter(touched.values()))
        for p in touched.values():
            p.updated_at = now
            session.add(p)
        await audit.append(
            session,
            gw.clock,
            principal,
            "order.update",
            "message",
            header.id,
            "success",
            {"event": "dispense-notification"},
        )
        session.add(
            FhirMessage(
                id=header.id,
                direction="in",
                event=header.event,
                prescription_id=first.id,
                sender_ods=provider_ods,
                receiver_ods=first.trust_ods,
                body_enc=gw.cipher.seal(raw, context=message_context(header.id, provider_ods)),
                created_at=now,
            )
        )
    return True
