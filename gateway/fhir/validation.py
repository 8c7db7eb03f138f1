"""Structural validation of FHIR R4 JSON with the fhir.resources R4B models, reported as located `Issue`s.

The R4B models check element names, cardinality of lists, datatypes and primitive formats; they accept Decimal
values as they are. On top, for Bundles: a message starts with its MessageHeader, fullUrls are unique, and every
`urn:uuid:` reference resolves to an entry of the same Bundle. Profile rules (our StructureDefinitions, value
sets) are not checked here. Pydantic's errors never leave this module.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError

from gateway.errors import Issue, Location, Severity

INVALID_FHIR = "INVALID_FHIR"
MESSAGE_HEADER_NOT_FIRST = "MESSAGE_HEADER_NOT_FIRST"
DUPLICATE_FULL_URL = "DUPLICATE_FULL_URL"
UNRESOLVED_REFERENCE = "UNRESOLVED_REFERENCE"

_ELEMENT_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]*$")
_MAX_VALUE_CHARS = 200


@functools.lru_cache(maxsize=256)
def _model_class(resource_type: str) -> type[FHIRAbstractModel] | None:
    try:
        return get_fhir_model_class(resource_type)
    except (ValueError, KeyError, ImportError):
        return None


def validate_resource(resource: Any) -> list[Issue]:
    """Every problem found in one FHIR resource (a Bundle included), each with its FHIRPath; [] when valid."""
    if not isinstance(resource, dict):
        return [Issue(code=INVALID_FHIR, message="a FHIR resource must be a JSON object")]
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or _model_class(resource_type) is None:
        return [_bad_resource_type("resourceType", resource_type)]
    issues: list[Issue] = []
    data = resource
    if resource_type == "Bundle":
        data, issues = _without_unknown_resources(resource)
    issues.extend(_model_issues(resource_type, data))
    if resource_type == "Bundle":
        issues.extend(_bundle_issues(resource, "Bundle"))
    return issues


def _bad_resource_type(path: str, value: object) -> Issue:
    return Issue(
        code=INVALID_FHIR,
        message="missing or unknown resourceType",
        location=Location(path=path),
        value=None if value is None else str(value)[:_MAX_VALUE_CHARS],
        expected="an R4 resource type",
    )


def _without_unknown_resources(bundle: dict[str, Any]) -> tuple[dict[str, Any], list[Issue]]:
    """The Bundle without entry resources of no known type (fhir.resources fails on them without a located error)."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return bundle, []
    issues: list[Issue] = []
    kept: list[Any] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            resource_type = resource.get("resourceType")
            if not isinstance(resource_type, str) or _model_class(resource_type) is None:
                issues.append(_bad_resource_type(f"Bundle.entry[{index}].resource.resourceType", resource_type))
                entry = {k: v for k, v in entry.items() if k != "resource"}
        kept.append(entry)
    if not issues:
        return bundle, []
    return {**bundle, "entry": kept}, issues


def _model_issues(resource_type: str, data: dict[str, Any]) -> list[Issue]:
    model = _model_class(resource_type)
    if model is None:
        return [_bad_resource_type("resourceType", resource_type)]
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [_issue_from_error(resource_type, error) for error in exc.errors(include_url=False)]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # fhir_core raises plain exceptions for shapes it cannot even start on (e.g. a nested unknown resourceType).
        return [
            Issue(
                code=INVALID_FHIR, message=f"not a valid {resource_type}: {exc}", location=Location(path=resource_type)
            )
        ]
    return []


def fhirpath(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """`('entry', 3, 'resource', 'status')` → `Bundle.entry[3].resource.status`; pydantic-internal steps dropped."""
    path = resource_type
    for step in loc:
        if isinstance(step, int):
            path += f"[{step}]"
        elif _ELEMENT_NAME.match(step):
            name = step[1:] if step.startswith("_") else step
            path += "." + (name[:-5] if name.endswith("__ext") else name)
    return path


def _issue_from_error(resource_type: str, error: Any) -> Issue:
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind == "missing":
        message = "required element is missing"
    elif kind == "extra_forbidden":
        message = "unknown element"
    raw = error.get("input")
    # Scalars only: a whole object as "value" would repeat the patient's record in the error.
    value = None if kind == "missing" or raw is None or isinstance(raw, dict | list) else str(raw)[:_MAX_VALUE_CHARS]
    return Issue(
        code=INVALID_FHIR,
        message=message,
        location=Location(path=fhirpath(resource_type, tuple(error.get("loc", ())))),
        value=value,
    )


def _bundle_issues(bundle: dict[str, Any], path: str) -> list[Issue]:
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        entries = []
    issues: list[Issue] = []
    if bundle.get("type") == "message":
        first = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
        first_type = first.get("resourceType") if isinstance(first, dict) else None
        if first_type != "MessageHeader":
            issues.append(
                Issue(
                    code=MESSAGE_HEADER_NOT_FIRST,
                    message="a message Bundle must start with its MessageHeader",
                    location=Location(path=f"{path}.entry[0]" if entries else f"{path}.entry"),
                    value=first_type if isinstance(first_type, str) else None,
                    expected="MessageHeader",
                )
            )
    full_urls: set[str] = set()
    for index, entry in enumerate(entries):
        full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if not isinstance(full_url, str):
            continue
        key = _uuid_key(full_url)
        if key in full_urls:
            issues.append(
                Issue(
                    code=DUPLICATE_FULL_URL,
                    message="fullUrl already used by an earlier entry",
                    location=Location(path=f"{path}.entry[{index}].fullUrl"),
                    value=full_url,
                )
            )
        full_urls.add(key)
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        entry_path = f"{path}.entry[{index}].resource"
        resource_type = resource.get("resourceType")
        if resource_type == "Bundle":
            # A nested Bundle (e.g. a message inside a searchset) resolves its references within itself.
            issues.extend(_bundle_issues(resource, entry_path))
            continue
        # A signature Provenance lists what was signed; EPS accepts (200 OK) signed orders whose Provenance still
        # names resources of another message, and a dispense notification's contained MedicationRequest names the
        # original prescription's Patient and PractitionerRole: there a dangling reference is only a warning.
        for ref_path, reference, lenient in _references(resource, entry_path):
            if reference[:9].lower() == "urn:uuid:" and _uuid_key(reference) not in full_urls:
                severity: Severity = "warning" if resource_type == "Provenance" or lenient else "error"
                issues.append(
                    Issue(
                        code=UNRESOLVED_REFERENCE,
                        severity=severity,
                        message="urn:uuid reference to no entry of this Bundle",
                        location=Location(path=ref_path),
                        value=reference,
                    )
                )
    return issues


def _uuid_key(url: str) -> str:
    """urn:uuid URLs compare without regard to case (RFC 4122 hex digits); other URLs exactly."""
    return url.lower() if url[:9].lower() == "urn:uuid:" else url


def _references(node: Any, path: str, lenient: bool = False) -> Iterator[tuple[str, str, bool]]:
    """(FHIRPath, value, EPS sends it dangling) of every Reference.reference string under `node`, contained Bundles
    excluded. EPS sends dangling references (gateway/validator/references.py `_dangling_allowed`) inside a contained
    MedicationRequest, in a MedicationRequest's basedOn, and on a Reference that also carries an identifier."""
    if isinstance(node, dict):
        identified = "identifier" in node
        request = node.get("resourceType") == "MedicationRequest"
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield f"{path}.reference", value, lenient or identified
            elif key == "contained" and isinstance(value, list):
                for index, item in enumerate(value):
                    inside = isinstance(item, dict) and item.get("resourceType") == "MedicationRequest"
                    yield from _references(item, f"{path}.contained[{index}]", lenient or inside)
            elif isinstance(value, dict | list):
                yield from _references(value, f"{path}.{key}", lenient or (request and key == "basedOn"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict | list):
                yield from _references(value, f"{path}[{index}]", lenient)
