"""Reading the parts of inbound FHIR Tasks the lifecycle services need. Every failure is a located InputError,
whatever shape the JSON has."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from gateway.fhir.inbound import fail

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
TASK_INPUT_SYSTEM = "https://fhir.homecaregateway.uk/CodeSystem/homecare-task-input"
RFC4122 = "https://tools.ietf.org/html/rfc4122"


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_task(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict) or obj.get("resourceType") != "Task":
        raise fail("Task", "the body must be a FHIR Task", code="INVALID_RESOURCE")
    return obj


def codings(concept: Any) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept that are objects; anything else reads as none."""
    found = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def code_in(concept: Any, system: str) -> str | None:
    """The first string code of `system` in a CodeableConcept."""
    return next(
        (c["code"] for c in codings(concept) if c.get("system") == system and isinstance(c.get("code"), str)), None
    )


def display_of(concept: Any, system: str) -> str | None:
    return next(
        (c["display"] for c in codings(concept) if c.get("system") == system and isinstance(c.get("display"), str)),
        None,
    )


def inputs(task: dict[str, Any], system: str, element: str = "input") -> dict[str, tuple[int, dict[str, Any]]]:
    """Task.input (or .output) entries by their type code in `system`, with their index; the first of a code wins."""
    raw = task.get(element)
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise fail(f"Task.{element}", f"Task.{element} must be an array", value=type(raw).__name__, expected="an array")
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise fail(f"Task.{element}[{index}]", "each entry must be an object", value=type(item).__name__)
        code = code_in(item.get("type"), system)
        if code is not None:
            found.setdefault(code, (index, item))
    return found


def identifier_of(reference: Any, system: str | None = None) -> str | None:
    """The value of a Reference's (or an Identifier's) identifier, of `system` when given."""
    ident = reference.get("identifier", reference) if isinstance(reference, dict) else None
    if not isinstance(ident, dict) or not isinstance(ident.get("value"), str) or not ident["value"]:
        return None
    if system is not None and ident.get("system") != system:
        return None
    return str(ident["value"])


def task_key(task: dict[str, Any]) -> str | None:
    """What identifies a Task across resends: its first identifier's value, else its id."""
    idents = task.get("identifier")
    if isinstance(idents, list):
        for ident in idents:
            value = identifier_of(ident)
            if value is not None and len(value) <= 64:
                return value
    task_id = task.get("id")
    return task_id if isinstance(task_id, str) and 0 < len(task_id) <= 64 else None


def read_date(value: Any, path: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise fail(path, "not a date", value=value, expected="YYYY-MM-DD") from exc


def read_datetime(value: Any, path: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise fail(path, "not a dateTime", value=value, expected="an ISO 8601 dateTime with offset") from exc
    if parsed.tzinfo is None:
        raise fail(path, "a dateTime needs its UTC offset", value=value, expected="an ISO 8601 dateTime with offset")
    return parsed
