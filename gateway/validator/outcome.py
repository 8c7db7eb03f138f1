"""Findings as a FHIR OperationOutcome: severity, issue type, our stable code, message, expression, profile/element."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from gateway.errors import Issue
from gateway.validator.catalogue import cite
from gateway.validator.issues import ValidationIssue, issue_type

VALIDATION_CODE_SYSTEM = "https://fhir.homecaregateway.uk/CodeSystem/validation-issue"
EXT_PROFILE = "https://fhir.homecaregateway.uk/StructureDefinition/Extension-ValidationProfile"
EXT_ELEMENT = "https://fhir.homecaregateway.uk/StructureDefinition/Extension-ValidationElement"


def outcome_issue(issue: Issue) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "severity": issue.severity,
        "code": issue_type(issue.code),
        "details": {"coding": [{"system": VALIDATION_CODE_SYSTEM, "code": issue.code}], "text": issue.message},
        "diagnostics": diagnostics(issue),
    }
    if isinstance(issue, ValidationIssue):
        extensions = []
        if issue.profile:
            extensions.append({"url": EXT_PROFILE, "valueCanonical": issue.profile})
        if issue.element:
            extensions.append({"url": EXT_ELEMENT, "valueString": issue.element})
        if extensions:
            entry = {"extension": extensions, **entry}
    if issue.location.path:
        entry["expression"] = [issue.location.path]
    return cite(entry)


def diagnostics(issue: Issue) -> str:
    """The message with what was seen and expected, and the profile and element it was checked against."""
    text = issue.message
    if issue.value is not None:
        text += f" (seen {issue.value!r}" + (f", expected {issue.expected})" if issue.expected else ")")
    elif issue.expected:
        text += f" (expected {issue.expected})"
    if isinstance(issue, ValidationIssue) and issue.element:
        text += f" [{issue.element}" + (f" in {issue.profile}]" if issue.profile else "]")
    return text


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    """An OperationOutcome of every finding; a single information issue when there is none."""
    entries = [outcome_issue(i) for i in issues]
    if not entries:
        entries = [{"severity": "information", "code": "informational", "diagnostics": "no issues found"}]
    return {"resourceType": "OperationOutcome", "id": str(uuid.uuid4()), "issue": entries}


def has_errors(issues: Sequence[Issue]) -> bool:
    return any(i.severity in ("error", "fatal") for i in issues)
