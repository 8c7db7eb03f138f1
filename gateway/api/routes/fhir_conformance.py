"""FHIR conformance endpoints: `$validate` (any resource, or one type) and the CapabilityStatement.

The validator is built once per process (`Validator.from_package()`); a validation is CPU work of about a
millisecond, done inline.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from gateway.api.deps import read_body
from gateway.api.fhir_response import FhirJSONResponse
from gateway.budget import offload
from gateway.validator.operation import validate_request
from gateway.validator.validator import Validator

router = APIRouter(prefix="/FHIR/R4", tags=["fhir"])


@router.post("/$validate", summary="Validate a resource (or Parameters with resource and profile)")
async def post_validate(
    body: Annotated[bytes, Depends(read_body)],
    profile: Annotated[str | None, Query(description="Canonical URL of the profile to validate against")] = None,
) -> FhirJSONResponse:
    outcome = await offload(validate_request, Validator.from_package(), body, profile=profile)
    return FhirJSONResponse(outcome)


@router.post("/{resource_type}/$validate", summary="Validate a resource of this type")
async def post_validate_type(
    resource_type: str,
    body: Annotated[bytes, Depends(read_body)],
    profile: Annotated[str | None, Query(description="Canonical URL of the profile to validate against")] = None,
) -> FhirJSONResponse:
    outcome = await offload(validate_request, Validator.from_package(), body, resource_type, profile)
    return FhirJSONResponse(outcome)


@router.get("/metadata", summary="The gateway's CapabilityStatement")
async def get_metadata() -> FhirJSONResponse:
    return FhirJSONResponse(Validator.from_package().capability_statement())
