"""The gateway's offline FHIR R4 validator: our profiles (`fhir_profiles/`), bindings, Bundle and EPS rules.

`Validator.from_package()` loads and compiles the conformance resources once; `validate(resource)` returns
`ValidationIssue`s (an `Issue` with the profile and element id), never raises on bad input. `eps_acceptance(bundle)`
adds, for a message the gateway sends, every rule of EPS's coordinator it breaks (docs/eps-acceptance.md).
These are the validator's public face: the conformance kit uses them as a library and imports nothing else.
"""

from __future__ import annotations

from gateway.fhir.eps_acceptance import eps_acceptance
from gateway.validator.issues import ValidationIssue
from gateway.validator.validator import Validator

__all__ = ["ValidationIssue", "Validator", "eps_acceptance"]
