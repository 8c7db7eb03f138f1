"""Validation findings: `ValidationIssue` (an `Issue` naming the profile and element) and their stable codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.errors import Issue

# Structure
UNKNOWN_ELEMENT: Final = "UNKNOWN_ELEMENT"
INVALID_TYPE: Final = "INVALID_TYPE"
INVALID_FORMAT: Final = "INVALID_FORMAT"
EXPECTED_ARRAY: Final = "EXPECTED_ARRAY"
UNEXPECTED_ARRAY: Final = "UNEXPECTED_ARRAY"
EMPTY_ELEMENT: Final = "EMPTY_ELEMENT"
UNKNOWN_RESOURCE_TYPE: Final = "UNKNOWN_RESOURCE_TYPE"
UNSUPPORTED_RESOURCE_TYPE: Final = "UNSUPPORTED_RESOURCE_TYPE"
UNKNOWN_PROFILE: Final = "UNKNOWN_PROFILE"
UNKNOWN_EXTENSION: Final = "UNKNOWN_EXTENSION"
# Cardinality, fixed and pattern values
MISSING_ELEMENT: Final = "MISSING_ELEMENT"
TOO_MANY: Final = "TOO_MANY"
ELEMENT_NOT_ALLOWED: Final = "ELEMENT_NOT_ALLOWED"
FIXED_VALUE_MISMATCH: Final = "FIXED_VALUE_MISMATCH"
PATTERN_MISMATCH: Final = "PATTERN_MISMATCH"
# Terminology
CODE_NOT_IN_VALUESET: Final = "CODE_NOT_IN_VALUESET"
CODE_NOT_CHECKED: Final = "CODE_NOT_CHECKED"
DISPLAY_MISMATCH: Final = "DISPLAY_MISMATCH"
# Slicing
SLICE_MISSING: Final = "SLICE_MISSING"
SLICE_TOO_MANY: Final = "SLICE_TOO_MANY"
NO_MATCHING_SLICE: Final = "NO_MATCHING_SLICE"
# Invariants
INVARIANT_FAILED: Final = "INVARIANT_FAILED"
INVARIANT_NOT_EVALUATED: Final = "INVARIANT_NOT_EVALUATED"
# Bundle rules
DUPLICATE_FULL_URL: Final = "DUPLICATE_FULL_URL"
MESSAGE_HEADER_NOT_FIRST: Final = "MESSAGE_HEADER_NOT_FIRST"
MESSAGE_FOCUS_NOT_FOUND: Final = "MESSAGE_FOCUS_NOT_FOUND"
UNRESOLVED_REFERENCE: Final = "UNRESOLVED_REFERENCE"
REFERENCE_WRONG_TYPE: Final = "REFERENCE_WRONG_TYPE"
# Domain (NHS identifiers and EPS prescription rules)
INVALID_NHS_NUMBER: Final = "INVALID_NHS_NUMBER"
INVALID_DMD_CHECK_DIGIT: Final = "INVALID_DMD_CHECK_DIGIT"
INVALID_SNOMED_CHECK_DIGIT: Final = "INVALID_SNOMED_CHECK_DIGIT"
INVALID_SHORT_FORM_ID: Final = "INVALID_SHORT_FORM_ID"
INCONSISTENT_GROUP_IDENTIFIER: Final = "INCONSISTENT_GROUP_IDENTIFIER"
INCONSISTENT_SUBJECT: Final = "INCONSISTENT_SUBJECT"
INCONSISTENT_REQUESTER: Final = "INCONSISTENT_REQUESTER"
INCONSISTENT_PRESCRIPTION_TYPE: Final = "INCONSISTENT_PRESCRIPTION_TYPE"
INCONSISTENT_COURSE_OF_THERAPY: Final = "INCONSISTENT_COURSE_OF_THERAPY"
INCONSISTENT_PERFORMER: Final = "INCONSISTENT_PERFORMER"
INCONSISTENT_DISPENSE: Final = "INCONSISTENT_DISPENSE"
# Input
NOT_A_RESOURCE: Final = "NOT_A_RESOURCE"

# Our code → FHIR IssueType (http://hl7.org/fhir/issue-type).
ISSUE_TYPES: Final[dict[str, str]] = {
    UNKNOWN_ELEMENT: "structure",
    INVALID_TYPE: "structure",
    EXPECTED_ARRAY: "structure",
    UNEXPECTED_ARRAY: "structure",
    EMPTY_ELEMENT: "structure",
    UNKNOWN_RESOURCE_TYPE: "structure",
    NOT_A_RESOURCE: "structure",
    UNSUPPORTED_RESOURCE_TYPE: "not-supported",
    UNKNOWN_PROFILE: "not-supported",
    UNKNOWN_EXTENSION: "informational",
    INVALID_FORMAT: "value",
    MISSING_ELEMENT: "required",
    TOO_MANY: "structure",
    ELEMENT_NOT_ALLOWED: "structure",
    FIXED_VALUE_MISMATCH: "value",
    PATTERN_MISMATCH: "value",
    CODE_NOT_IN_VALUESET: "code-invalid",
    CODE_NOT_CHECKED: "informational",
    DISPLAY_MISMATCH: "code-invalid",
    SLICE_MISSING: "required",
    SLICE_TOO_MANY: "structure",
    NO_MATCHING_SLICE: "structure",
    INVARIANT_FAILED: "invariant",
    INVARIANT_NOT_EVALUATED: "processing",
    DUPLICATE_FULL_URL: "duplicate",
    MESSAGE_HEADER_NOT_FIRST: "structure",
    MESSAGE_FOCUS_NOT_FOUND: "not-found",
    UNRESOLVED_REFERENCE: "not-found",
    REFERENCE_WRONG_TYPE: "structure",
}


@dataclass(frozen=True, slots=True)
class ValidationIssue(Issue):
    """An `Issue` found by the validator, naming the profile (canonical URL) and element id it checked against."""

    profile: str | None = None
    element: str | None = None

    def as_dict(self) -> dict[str, object]:
        out = Issue.as_dict(self)
        if self.profile is not None:
            out["profile"] = self.profile
        if self.element is not None:
            out["element"] = self.element
        return out


def issue_type(code: str) -> str:
    """The FHIR IssueType for one of our codes; domain rules are business rules."""
    return ISSUE_TYPES.get(code, "business-rule")
