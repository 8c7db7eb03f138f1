"""Writes `fhir_profiles/base/`: FHIR R4 base StructureDefinition snapshots derived from the fhir.resources models.

The element tables (names, types, cardinality, choice types, reference targets, required code lists) are read from
the R4B pydantic models' field metadata, which for the resources the gateway uses match R4; the two R4B-only
datatypes (CodeableReference, RatioRange) are left out. Required bindings of `code` elements carry their codes
inline (`BINDING_CODES_URL` extensions), so no ValueSet files are needed for them. The R4 core invariants
(`core_invariants.py`) are added to the elements they sit on, and the SimpleQuantity profile is written for the
elements R4 types with it. Run
`python -m gateway.validator.generate_base` after upgrading fhir.resources; a test checks the files are in sync.
"""

from __future__ import annotations

import json
import sys
import typing
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from fhir_profiles import PACKAGE_DIR
from gateway.validator import core_invariants

BASE_DIR = PACKAGE_DIR / "base"
FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"
BINDING_CODES_URL = "https://fhir.homecaregateway.uk/StructureDefinition/Extension-BindingCode"
SIMPLE_QUANTITY_URL = FHIR_SD + "SimpleQuantity"
# The resource types the gateway sends, receives or meets in EPS messages.
RESOURCES = (
    "Bundle", "MessageHeader", "MedicationRequest", "MedicationDispense", "Medication", "Patient", "Practitioner",
    "PractitionerRole", "Organization", "Location", "HealthcareService", "Task", "Parameters", "OperationOutcome",
    "Provenance", "Claim", "CommunicationRequest", "List", "Device",
)
_R4B_ONLY = frozenset({"CodeableReference", "RatioRange"})
# The models abbreviate a few long code lists with "+"; these are the complete R4 lists.
_FULL_CODES = {
    "Task.status": ["draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
                    "on-hold", "failed", "completed", "entered-in-error"],
    "Device.udiCarrier.entryType": ["barcode", "rfid", "manual", "card", "self-reported", "unknown"],
}
_PRIMITIVES = {
    "Id": "id", "Uri": "uri", "Code": "code", "String": "string", "DateTime": "dateTime", "Date": "date",
    "Instant": "instant", "Time": "time", "Decimal": "decimal", "Integer": "integer", "PositiveInt": "positiveInt",
    "UnsignedInt": "unsignedInt", "Canonical": "canonical", "Markdown": "markdown", "Oid": "oid", "Url": "url",
    "Base64Binary": "base64Binary", "UuidVersion": "uuid", "Xhtml": "xhtml",
}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The element's core type and whether it repeats."""
    repeats = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin in (list, typing.List):  # noqa: UP006 - the models spell it typing.List
            repeats = True
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, repeats


def _type_code(core: Any) -> str:
    if core is bool:
        return "boolean"
    if typing.get_origin(core) is typing.Annotated:
        for meta in core.__metadata__:
            name = type(meta).__name__
            if name in _PRIMITIVES:
                return _PRIMITIVES[name]
        raise ValueError(f"unknown primitive annotation {core!r}")
    name = getattr(core, "__name__", "")
    if name.endswith("Type"):
        return name[:-4]
    raise ValueError(f"unknown element type {core!r}")


def _is_datatype(name: str) -> bool:
    """A top-level FHIR type (resource or datatype) rather than a backbone element class."""
    if name in ("Resource", "Element", "BackboneElement"):
        return True
    model = get_fhir_model_class(name)
    return bool(model.__module__.rsplit(".", 1)[-1] == name.lower())


class _Builder:
    def __init__(self) -> None:
        self.datatypes: set[str] = set()

    def elements(self, type_name: str) -> list[dict[str, Any]]:
        root: dict[str, Any] = {"id": type_name, "path": type_name, "min": 0, "max": "*"}
        out = [root]
        self._children(get_fhir_model_class(type_name), type_name, out, {type_name: type_name})
        return out

    def _children(self, model: Any, path: str, out: list[dict[str, Any]], seen: dict[str, str]) -> None:
        choices: dict[str, dict[str, Any]] = {}
        for field in model.model_fields.values():
            extra = field.json_schema_extra
            if not isinstance(extra, dict) or not extra.get("element_property"):
                continue
            core, repeats = _unwrap(field.annotation)
            code = _type_code(core)
            if code in _R4B_ONLY:
                continue
            required = bool(field.is_required() or extra.get("element_required"))
            choice = extra.get("one_of_many")
            if isinstance(choice, str):
                element = choices.get(choice)
                extra = {**extra, "path": f"{path}.{choice}[x]"}
                if element is None:
                    element = {"id": f"{path}.{choice}[x]", "path": f"{path}.{choice}[x]",
                               "min": 1 if extra.get("one_of_many_required") else 0, "max": "1", "type": []}
                    choices[choice] = element
                    out.append(element)
                element["type"].append(self._type(code, extra))
                continue
            element = {"id": f"{path}.{field.alias}", "path": f"{path}.{field.alias}", "min": 1 if required else 0,
                       "max": "*" if repeats else "1"}
            extra = {**extra, "path": element["path"]}
            out.append(element)
            if code not in ("Resource",) and code[0].isupper() and not _is_datatype(code):
                if code in seen:
                    element["contentReference"] = "#" + seen[code]
                    continue
                element["type"] = [{"code": "BackboneElement"}]
                self._children(get_fhir_model_class(code), element["path"], out, {**seen, code: element["path"]})
                continue
            element["type"] = [self._type(code, extra)]
            codes = _FULL_CODES.get(element["path"], extra.get("enum_values"))
            if isinstance(codes, list) and "+" in codes:
                raise ValueError(f"{element['path']}: the model abbreviates its codes; add them to _FULL_CODES")
            if isinstance(codes, list) and codes:
                element["binding"] = {
                    "extension": [{"url": BINDING_CODES_URL, "valueCode": c} for c in codes],
                    "strength": "required",
                }

    def _type(self, code: str, extra: dict[str, Any]) -> dict[str, Any]:
        if code[0].isupper() and code != "Resource":
            self.datatypes.add(code)
        entry: dict[str, Any] = {"code": code}
        if code == "Quantity" and extra.get("path") in core_invariants.SIMPLE_QUANTITY:
            entry["profile"] = [SIMPLE_QUANTITY_URL]
        targets = extra.get("enum_reference_types")
        if code in ("Reference", "canonical") and isinstance(targets, list) and targets:
            entry["targetProfile"] = [FHIR_SD + t for t in targets]
        return entry


def _definition(builder: _Builder, name: str, kind: str) -> dict[str, Any]:
    model = get_fhir_model_class(name)
    parent = model.__mro__[1].__name__
    base = {"FHIRAbstractModel": "Element"}.get(parent, parent)
    elements = builder.elements(name)
    _add_invariants(elements, name, domain_resource=kind == "resource" and name not in _NOT_DOMAIN_RESOURCES)
    return {
        "resourceType": "StructureDefinition",
        "id": name,
        "url": FHIR_SD + name,
        "version": "4.0.1",
        "name": name,
        "status": "active",
        "description": "FHIR R4 base definition (element table derived from the fhir.resources models).",
        "fhirVersion": "4.0.1",
        "kind": kind,
        "abstract": False,
        "type": name,
        "baseDefinition": FHIR_SD + base,
        "derivation": "specialization",
        "snapshot": {"element": elements},
    }


_NOT_DOMAIN_RESOURCES = frozenset({"Bundle", "Parameters", "Binary"})


def _add_invariants(elements: list[dict[str, Any]], type_name: str, *, domain_resource: bool) -> None:
    by_path = {e["path"]: e for e in elements}
    for path, invariant, source in core_invariants.for_type(type_name, domain_resource):
        by_path[path].setdefault("constraint", []).append(invariant.constraint(source))


def _simple_quantity(quantity: dict[str, Any]) -> dict[str, Any]:
    """R4's SimpleQuantity profile: a Quantity without a comparator (sqty-1)."""
    elements = json.loads(json.dumps(quantity["snapshot"]["element"]))
    sqty = [i for i in core_invariants.BY_TYPE["SimpleQuantity"] if i.key == "sqty-1"]
    elements[0]["constraint"] = [i.constraint("SimpleQuantity") for i in core_invariants.BY_TYPE["SimpleQuantity"]]
    return {
        **{k: v for k, v in quantity.items() if k != "snapshot"},
        "id": "SimpleQuantity",
        "url": SIMPLE_QUANTITY_URL,
        "name": "SimpleQuantity",
        "description": "FHIR R4 SimpleQuantity profile: a Quantity without a comparator (sqty-1).",
        "baseDefinition": FHIR_SD + "Quantity",
        "derivation": "constraint",
        "differential": {"element": [{"id": "Quantity", "path": "Quantity",
                                      "constraint": [i.constraint("SimpleQuantity") for i in sqty]}]},
        "snapshot": {"element": elements},
    }


def generate() -> dict[str, dict[str, Any]]:
    """File name → StructureDefinition, for every resource in RESOURCES and every datatype they reach."""
    builder = _Builder()
    out = {f"StructureDefinition-{name}.json": _definition(builder, name, "resource") for name in RESOURCES}
    done: set[str] = set()
    while builder.datatypes - done:
        name = sorted(builder.datatypes - done)[0]
        done.add(name)
        out[f"StructureDefinition-{name}.json"] = _definition(builder, name, "complex-type")
    out["StructureDefinition-SimpleQuantity.json"] = _simple_quantity(out["StructureDefinition-Quantity.json"])
    return dict(sorted(out.items()))


def render(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    BASE_DIR.mkdir(exist_ok=True)
    files = generate()
    for stale in BASE_DIR.glob("StructureDefinition-*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, definition in files.items():
        (BASE_DIR / name).write_text(render(definition), encoding="utf-8")
    print(f"wrote {len(files)} base StructureDefinitions to {BASE_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
