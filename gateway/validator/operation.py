"""The `$validate` operation: a request body (a resource, or Parameters with `resource` and `profile`) in, an
OperationOutcome out. Bodies that are not JSON, or name no resource, are `InputError`s."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.errors import InputError, Issue, Location
from gateway.limits import load_json
from gateway.validator.outcome import operation_outcome
from gateway.validator.validator import Validator


def _fail(code: str, message: str, path: str, value: str | None = None) -> InputError:
    return InputError([Issue(code=code, message=message, location=Location(path=path), value=value)])


def read_validate_request(body: bytes) -> tuple[Any, str | None]:
    """The resource to validate and the profile asked for (None: the resource's own or the default)."""
    data = load_json(body, parse_float=Decimal)  # bounded depth, width and numbers (gateway/limits.py)
    if not isinstance(data, dict) or data.get("resourceType") != "Parameters":
        return data, None
    resource: Any = None
    profile: str | None = None
    for index, parameter in enumerate(data.get("parameter") or []):
        if not isinstance(parameter, dict):
            continue
        if parameter.get("name") == "resource":
            resource = parameter.get("resource")
        elif parameter.get("name") == "profile":
            value = parameter.get("valueCanonical") or parameter.get("valueUri")
            if not isinstance(value, str):
                raise _fail("INVALID_PARAMETER", "profile must be a valueCanonical or valueUri",
                            f"Parameters.parameter[{index}]")
            profile = value
    if resource is None:
        # Parameters is itself a resource: with no `resource` parameter, it is what is to be validated.
        return data, profile
    return resource, profile


def validate_request(validator: Validator, body: bytes, resource_type: str | None = None,
                     profile: str | None = None) -> dict[str, Any]:
    """The OperationOutcome for a `$validate` body; `resource_type` is the `/{type}/$validate` path segment."""
    resource, requested = read_validate_request(body)
    profile = profile or requested
    if resource_type is not None and isinstance(resource, dict) and resource.get("resourceType") != resource_type:
        raise _fail("RESOURCE_TYPE_MISMATCH", f"this endpoint validates {resource_type} resources", "resourceType",
                    value=str(resource.get("resourceType")))
    if profile is not None and not validator.knows_profile(profile):
        raise _fail("UNKNOWN_PROFILE", "no such profile in the gateway's package", "profile", value=profile)
    return operation_outcome(list(validator.validate(resource, profile)))
