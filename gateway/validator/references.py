"""Bundle rules: unique fullUrls, references that resolve (urn:uuid, relative, `#contained`) to the right resource
type, and a message Bundle that starts with its MessageHeader whose focus is in the Bundle."""

from __future__ import annotations

from typing import Any

from gateway.validator import issues as codes
from gateway.validator.context import Context, Ref

_FHIR_BASE_SEPARATOR = "/"


def _key(url: str) -> str:
    """urn:uuid URLs compare without regard to case (RFC 4122 hex digits); other URLs exactly."""
    return url.lower() if url[:9].lower() == "urn:uuid:" else url


def bundle_rules(bundle: dict[str, Any], path: str, ctx: Context) -> None:
    """Run after the Bundle's walk: `ctx.refs` holds the references met inside it."""
    entries = bundle.get("entry")
    entries = entries if type(entries) is list else []
    by_url: dict[str, str] = {}
    by_type_id: dict[str, str] = {}
    versions: dict[str, set[Any]] = {}
    history = bundle.get("type") == "history"
    for index, entry in enumerate(entries):
        if type(entry) is not dict:
            continue
        resource = entry.get("resource")
        resource_type = resource.get("resourceType") if type(resource) is dict else None
        full_url = entry.get("fullUrl")
        if type(full_url) is str:
            key = _key(full_url)
            version = _version_id(resource)
            if key in by_url and not history and version in versions[key]:
                ctx.add(codes.DUPLICATE_FULL_URL, "bdl-7: fullUrl already used by an earlier entry (of the same "
                        "meta.versionId)", f"{path}.entry[{index}].fullUrl", value=full_url, profile=_BUNDLE)
            versions.setdefault(key, set()).add(version)
            by_url[key] = str(resource_type)
        if type(resource_type) is str and type(resource.get("id")) is str:  # type: ignore[union-attr]
            by_type_id[f"{resource_type}/{resource['id']}"] = resource_type  # type: ignore[index]
    for ref in ctx.refs:
        _resolve(ref, by_url, by_type_id, ctx)
    if bundle.get("type") == "message":
        _message_rules(entries, path, by_url, by_type_id, ctx)


_BUNDLE = "http://hl7.org/fhir/StructureDefinition/Bundle"


def _version_id(resource: Any) -> Any:
    meta = resource.get("meta") if type(resource) is dict else None
    return meta.get("versionId") if type(meta) is dict else None


def _target(reference: str, ref: Ref | None, by_url: dict[str, str], by_type_id: dict[str, str]) -> str | None:
    """The resource type a reference resolves to in this Bundle, else None."""
    found = by_url.get(_key(reference))
    if found is not None:
        return found
    if "://" not in reference and not reference.startswith("urn:"):
        # A relative reference `Type/id` (optionally `/_history/n`) matches an entry of that type and id.
        parts = reference.split(_FHIR_BASE_SEPARATOR)
        if len(parts) >= 2:
            return by_type_id.get(f"{parts[0]}/{parts[1]}")
    else:
        tail = reference.rsplit(_FHIR_BASE_SEPARATOR, 2)
        if len(tail) == 3:
            return by_type_id.get(f"{tail[1]}/{tail[2]}") if reference.startswith("http") else None
    return None


def outside_bundles(ctx: Context) -> None:
    """References met outside any Bundle: only `#contained` ones can be resolved offline."""
    for ref in ctx.refs:
        if ref.reference.startswith("#"):
            _resolve(ref, {}, {}, ctx)


def _resolve(ref: Ref, by_url: dict[str, str], by_type_id: dict[str, str], ctx: Context) -> None:
    reference = ref.reference
    if reference.startswith("#"):
        container = ref.frame.container()
        target = container.resource_type if reference == "#" else container.contained.get(reference[1:])
        if target is None:
            ctx.add(codes.UNRESOLVED_REFERENCE, "ref-1: no contained resource has this id", ref.path, ref.element,
                    value=reference)
            return
    else:
        target = _target(reference, ref, by_url, by_type_id)
        if target is None:
            if reference[:9].lower() != "urn:uuid:" and "://" in reference:
                return  # an absolute URL outside the Bundle: a server's business, not checked offline
            severity = "warning" if _dangling_allowed(ref) else "error"
            ctx.add(codes.UNRESOLVED_REFERENCE, "reference to no entry of this Bundle", ref.path, ref.element,
                    severity=severity, value=reference)  # type: ignore[arg-type]
            return
    if ref.targets is not None and target not in ref.targets:
        ctx.add(codes.REFERENCE_WRONG_TYPE, f"points at a {target}; allowed: {', '.join(sorted(ref.targets))}",
                ref.path, ref.element, value=reference, expected=" | ".join(sorted(ref.targets)))


def _dangling_allowed(ref: Ref) -> bool:
    """Where EPS itself sends and accepts references to resources outside the Bundle (then only a warning).

    A signature Provenance lists what was signed, and EPS accepts (200 OK) signed orders whose Provenance still
    names resources of another message. A dispense notification's contained MedicationRequest is the original
    prescription's line item as it was: its subject and requester are the Patient and PractitionerRole of the
    prescription-order, by their urn:uuid, which are no entries of the notification (EPS's own examples,
    `examples/.../1-Process-Request-Dispense-200_OK.json`; EPS reads the patient from the Bundle's Patient entry).
    A repeat-dispensing MedicationRequest's `basedOn` is the earlier issue of the prescription, which no message
    carries. And a Reference that also carries an identifier names its target by that identifier, as EPS reads
    it (e.g. `MessageHeader.sender.identifier` of a dispense notification whose `reference` is the prescriber's
    role in the original order).
    """
    if ref.frame.container().resource_type == "Provenance" or ref.identified:
        return True
    if ref.frame.resource_type == "MedicationRequest" and ".basedOn[" in ref.path[len(ref.frame.path):]:
        return True
    return ref.frame.parent is not None and ref.frame.resource_type == "MedicationRequest"


def _message_rules(
    entries: list[Any], path: str, by_url: dict[str, str], by_type_id: dict[str, str], ctx: Context
) -> None:
    first = entries[0].get("resource") if entries and type(entries[0]) is dict else None
    first_type = first.get("resourceType") if type(first) is dict else None
    if first_type != "MessageHeader":
        ctx.add(codes.MESSAGE_HEADER_NOT_FIRST, "bdl-12: a message Bundle must start with its MessageHeader",
                f"{path}.entry[0]" if entries else f"{path}.entry", value=first_type, expected="MessageHeader",
                profile=_BUNDLE)
        return
    focus = first.get("focus")  # type: ignore[union-attr]
    for index, item in enumerate(focus if type(focus) is list else []):
        reference = item.get("reference") if type(item) is dict else None
        # urn:uuid and relative focus references that do not resolve are already UNRESOLVED_REFERENCE errors.
        if not isinstance(reference, str) or "://" not in reference:
            continue
        if _target(reference, None, by_url, by_type_id) is None:
            ctx.add(codes.MESSAGE_FOCUS_NOT_FOUND, "the message's focus must be an entry of the Bundle",
                    f"{path}.entry[0].resource.focus[{index}].reference", value=reference, profile=_BUNDLE)
