"""The FHIR R4 AuditEvent of one record, built from ids and codes only, never from patient data."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from gateway.audit.actions import ACTIONS, DCM, ActionSpec
from gateway.audit.actor import OPERATOR_PREFIX, ActorColumns
from gateway.audit.errors import AuditRefusedError
from gateway.domain.identifiers import is_valid_nhs_number
from gateway.fhir.urls import HOMECARE_BASE, ODS_ORGANIZATION_CODE
from gateway.store.audit_tables import Outcome, instant

CLIENT_ID_SYSTEM: Final = f"{HOMECARE_BASE}/Id/client-id"
SYSTEM_ACTOR_SYSTEM: Final = f"{HOMECARE_BASE}/Id/gateway-component"
OPERATOR_SYSTEM: Final = f"{HOMECARE_BASE}/Id/console-operator"
GATEWAY_SYSTEM: Final = f"{HOMECARE_BASE}/Id/gateway"
ENTITY_ID_SYSTEM_BASE: Final = f"{HOMECARE_BASE}/Id/"
OBSERVER: Final = "homecare-gateway"

_APPLICATION: Final = {"system": DCM, "code": "110150", "display": "Application"}
_HUMAN_USER: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
    "code": "humanuser",
    "display": "human user",
}
_RESPONSIBLE: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
    "code": "RESP",
    "display": "responsible party",
}
_APPLICATION_SERVER: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
    "code": "4",
    "display": "Application Server",
}
_SYSTEM_OBJECT: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
    "code": "2",
    "display": "System Object",
}

# Identifiers and codes have no spaces: a name, an address or free text cannot pass.
_ENTITY_TYPE: Final = re.compile(r"[a-z][a-z0-9-]{0,31}")
_ID: Final = re.compile(r"[A-Za-z0-9._:@-]{1,64}")
_DETAIL_KEY: Final = re.compile(r"[a-z][a-z0-9_.-]{0,47}")
_DETAIL_VALUE: Final = re.compile(r"[A-Za-z0-9._:/@+=,-]{0,128}")
_PATIENT_WORDS: Final = re.compile(r"nhs|patient|name|birth|dob|address|postcode|phone|email|gender", re.IGNORECASE)
# An NHS number as written anywhere in a value: ten digits, perhaps grouped 3-3-4.
_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NHS_NUMBER_LIKE: Final = re.compile(r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])")

Detail = Mapping[str, str | int | bool]


def action_spec(action: str) -> ActionSpec:
    spec = ACTIONS.get(action)
    if spec is None:
        raise AuditRefusedError(f"unknown audit action {action!r}; add it to gateway.audit.actions", field="action")
    return spec


def check_ids_only(entity_type: str, entity_id: str, detail: Detail | None) -> None:
    """AuditRefusedError unless everything given is an identifier or a code, and none is an NHS number."""
    if not _ENTITY_TYPE.fullmatch(entity_type):
        raise AuditRefusedError("entity type must be a lowercase code", field="entity_type")
    _check_value(entity_id, _ID, field="entity_id")
    for key, value in (detail or {}).items():
        if not _DETAIL_KEY.fullmatch(key) or _PATIENT_WORDS.search(key):
            raise AuditRefusedError("detail keys are lowercase codes that do not name patient data", field="detail")
        if not isinstance(value, bool):
            _check_value(str(value), _DETAIL_VALUE, field=f"detail.{key}")


def _check_value(value: str, pattern: re.Pattern[str], *, field: str) -> None:
    if not pattern.fullmatch(value):
        raise AuditRefusedError(f"{field} must be an identifier or a code, without spaces", field=field)
    # A UUID is an id by construction, yet 1 in 800 holds a 10-digit run that passes Modulus 11: skip those.
    if _UUID.fullmatch(value):
        return
    if any(is_valid_nhs_number(digits) for digits in _NHS_NUMBER_LIKE.findall(value)):
        raise AuditRefusedError(f"{field} holds what looks like an NHS number", field=field)


def audit_event_json(
    *,
    seq: int,
    at: datetime,
    actor: ActorColumns,
    action: str,
    entity_type: str,
    entity_ids: Sequence[str],
    outcome: Outcome,
    detail: Detail | None,
) -> str:
    """The AuditEvent as compact JSON with sorted keys, so that equal records serialise alike.

    One `entity` per id, in the order given, each with the detail (a batch action did the same to each).
    """
    spec = action_spec(action)
    system = ENTITY_ID_SYSTEM_BASE + entity_type
    details = [{"type": k, "valueString": _detail_text(v)} for k, v in sorted(detail.items())] if detail else None
    entities: list[dict[str, Any]] = []
    for entity_id in entity_ids:
        what = {"identifier": {"system": system, "value": entity_id}}
        entity: dict[str, Any] = {"what": what, "type": _SYSTEM_OBJECT}
        if details:
            entity["detail"] = details
        entities.append(entity)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(seq),
        "type": spec.type.as_json(),
        "subtype": [spec.subtype.as_json()],
        "action": spec.fhir_action,
        "recorded": instant(at),
        "outcome": outcome.fhir_code,
        "agent": _agents(actor),
        "source": {
            "observer": {"identifier": {"system": GATEWAY_SYSTEM, "value": OBSERVER}, "display": "Homecare Gateway"},
            "type": [_APPLICATION_SERVER],
        },
        "entity": entities,
    }
    if outcome is not Outcome.SUCCESS:
        event["outcomeDesc"] = outcome.value
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entity_ids(event_json: str) -> list[str]:
    """The ids of the entities an AuditEvent names, in order (what `audit_entity` must hold for it)."""
    event = json.loads(event_json)
    return [e["what"]["identifier"]["value"] for e in event.get("entity", [])]


def _agents(actor: ActorColumns) -> list[dict[str, Any]]:
    if actor.client_id.startswith(OPERATOR_PREFIX):
        who = {"identifier": {"system": OPERATOR_SYSTEM, "value": actor.client_id.removeprefix(OPERATOR_PREFIX)}}
        return [{"type": {"coding": [_HUMAN_USER]}, "role": [{"text": actor.role}], "who": who, "requestor": True}]
    if actor.ods is None:
        who = {"identifier": {"system": SYSTEM_ACTOR_SYSTEM, "value": actor.client_id.removeprefix("system:")}}
        return [{"type": {"coding": [_APPLICATION]}, "who": who, "requestor": True}]
    client = {
        "type": {"coding": [_APPLICATION]},
        "role": [{"text": actor.role}],
        "who": {"identifier": {"system": CLIENT_ID_SYSTEM, "value": actor.client_id}},
        "requestor": True,
    }
    organisation = {
        "type": {"coding": [_RESPONSIBLE]},
        "who": {"identifier": {"system": ODS_ORGANIZATION_CODE, "value": actor.ods}},
        "requestor": False,
    }
    return [client, organisation]


def _detail_text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
