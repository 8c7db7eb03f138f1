"""The gateway's offline FHIR R4 validator: our profiles (`fhir_profiles/`), bindings, Bundle and EPS rules.

`Validator.from_package()` loads and compiles the conformance resources once; `validate(resource)` returns
`ValidationIssue`s (an `Issue` with the profile and element id), never raises on bad input.
"""

from __future__ import annotations

from gateway.validator.issues import ValidationIssue
from gateway.validator.validator import Validator

__all__ = ["ValidationIssue", "Validator"]
