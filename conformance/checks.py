"""Checks the suites share: bodies that must be FHIR JSON, validation findings, OperationOutcomes, messages."""

from __future__ import annotations

from typing import Any

import httpx

from conformance.model import TestRun
from gateway.validator import Validator, eps_acceptance

FHIR_JSON = "application/fhir+json"


def json_body(t: TestRun, response: httpx.Response, requirement: str, *, what: str = "the answer") -> Any:
    """The parsed JSON body, or a SHALL finding (and the test stops) when there is none."""
    try:
        return response.json()
    except ValueError:
        t.fail(requirement, f"{what} is not JSON (HTTP {response.status_code}): {response.text[:200]!r}", "body")


def expect_status(
    t: TestRun, response: httpx.Response, expected: int | tuple[int, ...], requirement: str, what: str
) -> None:
    wanted = expected if isinstance(expected, tuple) else (expected,)
    t.require(
        response.status_code in wanted,
        requirement,
        f"{what}: HTTP {response.status_code}, expected {' or '.join(map(str, wanted))}: {response.text[:300]}",
        "HTTP status",
    )


def validation_findings(
    t: TestRun, resource: Any, requirement: str, *, profile: str | None = None, prefix: str = ""
) -> int:
    """Validate `resource` with our validator; one finding per error, located by its FHIRPath. Errors found."""
    errors = [i for i in Validator.from_package().validate(resource, profile) if i.severity in ("error", "fatal")]
    for issue in errors:
        t.check(False, requirement, f"{issue.code}: {issue.message}", prefix + issue.location.describe())
    return len(errors)


def eps_acceptance_findings(t: TestRun, bundle: Any, requirement: str = "GW-EPS-1") -> int:
    """Run the EPS acceptance check on a prescription-order; one finding per rule of EPS's coordinator it breaks,
    located by its FHIRPath. Rules broken."""
    broken = eps_acceptance(bundle)
    for issue in broken:
        t.check(False, requirement, f"{issue.code}: {issue.message}", issue.location.describe())
    return len(broken)


def outcome_issues(body: Any) -> list[dict[str, Any]]:
    """The issues of an OperationOutcome (or of the first one in a message Bundle); [] when there is none."""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        issues = body.get("issue")
        return [i for i in issues if isinstance(i, dict)] if isinstance(issues, list) else []
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        for entry in body.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
                return outcome_issues(resource)
    return []


def issue_code(issue: dict[str, Any]) -> str | None:
    codings = (issue.get("details") or {}).get("coding") or []
    code = codings[0].get("code") if codings and isinstance(codings[0], dict) else None
    return code if isinstance(code, str) else None


def message_header(bundle: Any) -> dict[str, Any] | None:
    """The first entry's MessageHeader of a message Bundle, else None."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        return None
    header = entries[0].get("resource")
    return header if isinstance(header, dict) and header.get("resourceType") == "MessageHeader" else None
