"""Checks the walker makes on one value: bindings (codes, Codings, CodeableConcepts), FHIRPath invariants, and the
native dom-3 (a contained resource is referred to from its container, or refers to it)."""

from __future__ import annotations

from typing import Any

from gateway.validator import issues as codes
from gateway.validator.context import Context
from gateway.validator.invariants import Failures
from gateway.validator.model import Element

_STRENGTH_SEVERITY = {"required": "error", "extensible": "warning"}
DOM_3 = ("dom-3: If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
         "resource or SHALL refer to the containing resource")


# --- terminology -----------------------------------------------------------------------------------------------------
def check_code(code: str, element: Element, path: str, ctx: Context) -> None:
    binding = element.binding
    assert binding is not None  # noqa: S101 - only called for bound elements
    if code in binding.plain_codes:
        return
    if binding.expansion.open_systems:
        unchecked(next(iter(binding.expansion.open_systems)), code, element, path, ctx)
        return
    severity = _STRENGTH_SEVERITY.get(binding.strength)
    if severity is not None:
        ctx.add(codes.CODE_NOT_IN_VALUESET, f"code {code!r} is not in the {binding.strength} value set "
                f"{binding.value_set}", path, element, severity=severity,  # type: ignore[arg-type]
                value=code, expected=", ".join(sorted(binding.plain_codes)[:20]))


def check_coded(type_code: str, item: dict[str, Any], element: Element, path: str, ctx: Context) -> None:
    binding = element.binding
    assert binding is not None  # noqa: S101 - only called for bound elements
    if type_code == "Coding":
        codings, coding_paths = [item], [path]
    elif type_code == "CodeableConcept":
        codings = item.get("coding") or []
        if type(codings) is not list:
            codings = []  # its type is reported where it stands
        coding_paths = [f"{path}.coding[{i}]" for i in range(len(codings))]
    else:
        return
    found_unchecked = None
    for coding in codings:
        if type(coding) is not dict or type(coding.get("code")) is not str:
            continue
        found = binding.expansion.contains(coding.get("system"), coding["code"])
        if found:
            return
        if found is None:
            found_unchecked = coding
    severity = _STRENGTH_SEVERITY.get(binding.strength)
    if found_unchecked is not None:
        unchecked(str(found_unchecked.get("system")), found_unchecked["code"], element, path, ctx)
    elif severity is not None and (codings or binding.strength == "required"):
        shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings if type(c) is dict) or "no coding"
        ctx.add(codes.CODE_NOT_IN_VALUESET, f"{shown} is not in the {binding.strength} value set "
                f"{binding.value_set}", coding_paths[0] if coding_paths else path, element,
                severity=severity, value=shown)  # type: ignore[arg-type]


def unchecked(system: str, code: str, element: Element, path: str, ctx: Context) -> None:
    if system in ctx.reported_systems:
        return
    ctx.reported_systems.add(system)
    ctx.add(codes.CODE_NOT_CHECKED, f"codes from {system} cannot be checked offline (the package holds no "
            "complete copy); not checked", path, element, severity="information", value=code)


# --- invariants ------------------------------------------------------------------------------------------------------
def check_invariants(element: Element, value: Any, path: str, ctx: Context) -> None:
    frame = ctx.frame
    check = element.check
    assert check is not None  # noqa: S101 - set for every element with constraints
    failures = check(value, None, None) if frame is None else check(value, frame.resource, frame.root)
    if failures:
        report_invariants(element, failures, path, ctx)


def report_invariants(element: Element, failures: Failures, path: str, ctx: Context) -> None:
    """The issues of the invariants `element.check` found failing (or not evaluable) at `path`."""
    for index, result in failures:
        constraint = element.constraints[index]
        if result is None:
            ctx.add(codes.INVARIANT_NOT_EVALUATED, f"{constraint.key} could not be evaluated: "
                    f"{constraint.expression}", path, element, severity="warning")
        else:
            ctx.add(codes.INVARIANT_FAILED, f"{constraint.key}: {constraint.human}", path, element,
                    severity="warning" if constraint.severity == "warning" else "error",
                    expected=constraint.expression)


def _local_references(value: Any, out: set[str]) -> None:
    """Every string beginning with `#` in a resource (references, and canonical/uri values naming contained ones)."""
    if type(value) is dict:
        for item in value.values():
            _local_references(item, out)
    elif type(value) is list:
        for item in value:
            _local_references(item, out)
    elif type(value) is str and value[:1] == "#":
        out.add(value)


def check_contained_referenced(resource: dict[str, Any], path: str, element: Element, ctx: Context) -> None:
    """dom-3, natively: each contained resource is referred to (`#id`) from the resource, or refers to it (`#`)."""
    contained = resource.get("contained")
    if type(contained) is not list:
        return
    found: set[str] = set()
    _local_references(resource, found)
    for index, item in enumerate(contained):
        if type(item) is not dict or type(item.get("id")) is not str or "#" + item["id"] in found:
            continue
        own: set[str] = set()
        _local_references(item, own)
        if "#" not in own:
            ctx.add(codes.INVARIANT_FAILED, DOM_3, f"{path}.contained[{index}]", element, value=item["id"],
                    expected="a reference to #" + item["id"])
