"""Would EPS's own coordinator take this message? The outbound half of EPS fidelity.

Enters: a prescription-order or prescription-order-update message Bundle (JSON-ready dict) the gateway built.
Leaves: located `Issue`s (FHIRPath), one per rule of EPS's coordinator the message breaks; [] when EPS would take it.
Each rule (`rules.ALL_RULES`) names the EPS file it restates. Run on every bundle the gateway emits in the tests and
by the conformance gateway suite on every order a provider receives.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import Issue
from gateway.fhir import urls
from gateway.fhir.eps_acceptance import rules
from gateway.fhir.eps_acceptance.context import Message, as_dict, identifiers
from gateway.fhir.eps_acceptance.parties import patient_rules, reference_issues, requester_rules
from gateway.fhir.eps_acceptance.requests import (
    common_rules,
    identical_for_all,
    line_item_rules,
    prescription_rules,
    status_rules,
)
from gateway.fhir.eps_acceptance.rules import ALL_RULES, EpsRule

__all__ = ["ALL_RULES", "EpsRule", "eps_acceptance"]

ORDER = "prescription-order"
MAX_ITEMS = 4  # MedicationRequests per message (bundle-validator.ts)
UPDATE = "prescription-order-update"


def eps_acceptance(bundle: Any) -> list[Issue]:
    """Every EPS coordinator rule `bundle` breaks, located; [] when EPS would accept it."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return [rules.MESSAGE_EVENT.issue("Bundle", "not a Bundle")]
    message = Message(bundle)
    event = message.event
    issues: list[Issue] = []
    if event is None:
        return [rules.MESSAGE_EVENT.issue("Bundle.entry[0].resource")]
    identifier = as_dict(bundle.get("identifier"))
    if identifier.get("system") != urls.BUNDLE_IDENTIFIER or not identifier.get("value"):
        issues.append(rules.BUNDLE_IDENTIFIER.issue("Bundle.identifier"))
    requests = message.of_type("MedicationRequest")
    if not requests:
        return [*issues, rules.IDENTICAL.issue("Bundle.entry", "no MedicationRequest in the message")]
    if len(requests) > MAX_ITEMS:
        # "Bundle contains too many resources of type MedicationRequest. Expected at most 4."
        issues.append(rules.MAX_ITEMS.issue("Bundle.entry", value=str(len(requests))))
    issues.extend(common_rules(message, requests))
    for index, role in message.of_type("PractitionerRole"):
        issues.extend(reference_issues(message, message.path(index), role))
    if event == UPDATE:
        issues.extend(_cancellation(message, requests))
    elif event == ORDER:
        issues.extend(identical_for_all(message, requests))
        issues.extend(status_rules(message, requests, "active"))
        issues.extend(prescription_rules(message, requests))
        issues.extend(line_item_rules(message, requests))
        first_index, first = requests[0]
        issues.extend(requester_rules(message, message.path(first_index), first.get("requester")))
        issues.extend(patient_rules(message))
    return issues


def _cancellation(message: Message, requests: list[tuple[int, dict[str, Any]]]) -> list[Issue]:
    """verifyCancellationBundle: one MedicationRequest, cancelled, with its reason."""
    issues: list[Issue] = []
    if len(requests) != 1:
        issues.append(rules.CANCELLATION.issue("Bundle.entry", value=str(len(requests))))
    issues.extend(status_rules(message, requests, "cancelled"))
    for index, request in requests:
        if not request.get("statusReason"):
            issues.append(rules.CANCELLATION.issue(f"{message.path(index)}.statusReason"))
        if len(identifiers(request, urls.PRESCRIPTION_ORDER_ITEM_NUMBER)) != 1:
            issues.append(rules.LINE_ITEM_ID.issue(f"{message.path(index)}.identifier"))
    return issues
