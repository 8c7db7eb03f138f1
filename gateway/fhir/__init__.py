"""FHIR R4 messages shaped like the NHS EPS FHIR API: building, serialising and validating them."""
