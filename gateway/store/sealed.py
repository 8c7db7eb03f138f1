"""The associated-data context of every sealed column: table, row id and tenant, in one place."""

from __future__ import annotations


def inbound_context(payload_id: str, tenant_ods: str | None) -> str:
    return f"inbound_payload:{payload_id}:{tenant_ods or '-'}"


def prescription_context(prescription_id: str, trust_ods: str) -> str:
    return f"prescription:{prescription_id}:{trust_ods}"


def message_context(message_id: str, sender_ods: str | None) -> str:
    return f"fhir_message:{message_id}:{sender_ods or '-'}"
