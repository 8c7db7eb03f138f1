"""FHIR JSON responses: `application/fhir+json`, decimals written exactly as they are (never through float)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from gateway.fhir.serialise import dumps_bundle

FHIR_JSON = "application/fhir+json"


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return dumps_bundle(content)
