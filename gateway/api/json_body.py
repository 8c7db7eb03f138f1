"""JSON request bodies of the operator APIs (/api/v1/admin, /api/v1/ops): strict models, located errors.

The routes read the raw body themselves (`deps.read_body`) so that a bad one is answered in the gateway's own
error shape: an InputError with one issue per problem, located by its JSON field, not FastAPI's 422.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.errors import InputError, Issue, Location
from gateway.limits import load_json

M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 256 * 1024  # an operator's request is a few fields


class StrictBody(BaseModel):
    """A request body: unknown fields and loose types (a "1" for 1) are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """Declare the JSON body in OpenAPI (the route reads the raw body itself, to answer in the gateway's shape)."""
    schema = self_contained(model.model_json_schema())
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def self_contained(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic's JSON Schema of a model with nested models, their `$defs` written in place of each reference.

    Set inside an OpenAPI document, `{"$ref": "#/$defs/X"}` would resolve against the document's root, where there
    is no `$defs`: the body could not be read from the schema (clients' generators and schemathesis skip it).
    """
    defs: dict[str, Any] = schema.get("$defs", {})

    def inline(node: Any, within: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [inline(item, within) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in within:
                raise ValueError(f"{name} is recursive: its schema cannot be written in place")
            rest = {key: inline(value, within) for key, value in node.items() if key != "$ref"}
            resolved: dict[str, Any] = inline(defs[name], within | {name})
            return resolved | rest
        return {key: inline(value, within) for key, value in node.items() if key != "$defs"}

    result: dict[str, Any] = inline(schema, frozenset())
    return result


def parse_body(raw: bytes, model: type[M]) -> M:
    """The body as `model`, or an InputError locating every problem by its JSON field."""
    if len(raw) > MAX_BODY_BYTES:
        issue = Issue(
            "PAYLOAD_TOO_LARGE",
            "the request body is too large",
            Location(path="body"),
            value=f"{len(raw)} bytes",
            expected=f"at most {MAX_BODY_BYTES} bytes",
        )
        raise InputError([issue])
    data = load_json(raw)  # small (MAX_BODY_BYTES): read on the loop in well under a millisecond per kilobyte
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues = [
            Issue(
                "MISSING_VALUE" if e["type"] == "missing" else "INVALID_VALUE",
                e["msg"],
                Location(path=".".join(str(p) for p in e["loc"]) or "body"),
            )
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise InputError(issues) from exc
