"""StructureDefinition snapshots → the walker's tables (`Node`, `Child`, `Element`, `Slicing`), once per profile.

Children of an element come from the snapshot when the profile constrained inside it, else from the shared node
of the element's datatype (or of the profile on its type, e.g. an extension definition). Nodes are registered
before they are filled, so recursive types (Extension.extension, Parameters.parameter.part) compile once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from gateway.validator import slicing
from gateway.validator.core_invariants import BEST_PRACTICE_URL, NARRATIVE, NATIVE
from gateway.validator.invariants import combine, compile_invariant
from gateway.validator.model import COMPLEX, PRIMITIVE, RESOURCE, Child, Constraint, Element, Node, Slice, Slicing
from gateway.validator.package import FHIR_SD, Package, PackageError
from gateway.validator.primitives import CHECKS, TEXT_KINDS, is_primitive
from gateway.validator.terminology import Terminology

# Invariants the walker checks natively (ele-1: no empty elements, ext-1: value or extensions, not both, and the
# ones whose FHIRPath needs the whole resource or Bundle; see core_invariants.NATIVE).
NATIVE_INVARIANTS = frozenset(NATIVE)
_NO_TYPE_ROOT = frozenset({"BackboneElement", "Element", "Resource", "Extension"})


@dataclass(slots=True)
class Profile:
    """A compiled StructureDefinition: its canonical URL, the type it constrains, its root element and node."""

    url: str
    type: str
    root: Element
    node: Node


class _Definition:
    """One StructureDefinition's snapshot, indexed by element id and by parent id."""

    def __init__(self, sd: dict[str, Any]) -> None:
        self.url: str = sd["url"]
        self.type: str = sd["type"]
        self.kind: str = sd.get("kind", "resource")
        snapshot = sd.get("snapshot", {}).get("element")
        if not snapshot:
            raise PackageError(f"{self.url} has no snapshot (run python -m gateway.validator.snapshot)")
        self.elements: list[dict[str, Any]] = snapshot
        self.by_id = {e["id"]: e for e in snapshot}
        self.children: dict[str, list[tuple[str, str | None, dict[str, Any]]]] = defaultdict(list)
        for element in snapshot[1:]:
            parent, _, last = element["id"].rpartition(".")
            name, _, slice_name = last.partition(":")
            self.children[parent].append((name, slice_name or None, element))
        self.nodes: dict[str, Node] = {}


class Compiler:
    """Compiles profiles and base types on first use and keeps them."""

    def __init__(
        self, package: Package, terminology: Terminology, conforms: slicing.Conforms, *, best_practice: bool = False
    ) -> None:
        self._package = package
        self._terminology = terminology
        self._conforms = conforms
        self._best_practice = best_practice  # also evaluate best-practice and narrative invariants
        self._profiles: dict[str, Profile] = {}
        self._type_choices: dict[str, frozenset[str] | None] = {}

    def profile(self, url: str) -> Profile:
        key = url.split("|", 1)[0]
        compiled = self._profiles.get(key)
        if compiled is None:
            definition = _Definition(self._package.require(key, "StructureDefinition"))
            root = self._element(definition, definition.elements[0])
            node = Node(definition.type)
            if definition.kind != "resource" and root.constraints and definition.type not in _NO_TYPE_ROOT:
                node.root = root  # a datatype's own invariants hold wherever it is used
            compiled = Profile(definition.url, definition.type, root, node)
            self._profiles[key] = compiled  # before filling: recursive types find it
            definition.nodes[definition.elements[0]["id"]] = node
            self._fill(definition, definition.elements[0]["id"], node)
        return compiled

    def type_node(self, type_code: str) -> Node:
        return self.profile(FHIR_SD + type_code).node

    def has_profile(self, url: str) -> bool:
        resource = self._package.get(url)
        return resource is not None and resource.get("resourceType") == "StructureDefinition"

    # --- nodes -----------------------------------------------------------------------------------------------------
    def _node(self, definition: _Definition, element_id: str, type_code: str, root: Element | None = None) -> Node:
        node = definition.nodes.get(element_id)
        if node is None:
            node = Node(type_code, root=root)
            definition.nodes[element_id] = node
            self._fill(definition, element_id, node)
        return node

    def _type_root(self, code: str, profiles: list[str]) -> Element | None:
        """The root element of the datatype (or its profile) when it has invariants of its own."""
        if is_primitive(code) or code in _NO_TYPE_ROOT:
            return None
        url = profiles[0] if profiles and self.has_profile(profiles[0]) else FHIR_SD + code
        if not self.has_profile(url):
            return None
        return self.profile(url).node.root

    def _fill(self, definition: _Definition, parent_id: str, node: Node) -> None:
        entries = definition.children.get(parent_id, [])
        slices: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for name, slice_name, raw in entries:
            if slice_name is not None:
                if "/" in slice_name:
                    raise PackageError(f"{raw['id']}: reslicing is not supported")
                slices[name].append(raw)
        for name, slice_name, raw in entries:
            if slice_name is not None:
                continue
            element = self._element(definition, raw)
            names = []
            for type_entry in self._types(definition, raw):
                code = type_entry["code"]
                key = name[:-3] + code[0].upper() + code[1:] if name.endswith("[x]") else name
                node.children[key] = self._child(definition, raw, element, key, type_entry)
                names.append(key)
                if node.children[key].kind == PRIMITIVE:
                    names.append("_" + key)
            if element.min > 0:
                node.required.append((element, tuple(names)))
            if name.endswith("[x]") and 1 < len(names) and node.type_code != "Extension":
                node.choices.append((element, tuple(n for n in names if n[0] != "_")))
            if raw.get("slicing") and slices.get(name):
                if not element.repeats or name.endswith("[x]"):
                    raise PackageError(f"{raw['id']}: slicing a single element or a choice type is not supported "
                                       "(constrain its type instead)")
                element.slicing = self._slicing(definition, raw, element, names[0], slices[name])
        self._fast_paths(node)
        node.ready = True

    @staticmethod
    def _fast_paths(node: Node) -> None:
        # A primitive's `_name` alone also satisfies it: then the fast path fails and the full check decides.
        single = [(element, names[0]) for element, names in node.required
                  if len([n for n in names if n[:1] != "_"]) == 1]
        if len(single) == len(node.required):  # a required choice needs the full check
            node.required_names = frozenset(name for _, name in single)
            node.required_lists = tuple(name for element, name in single if element.repeats)
        else:
            node.required_names = frozenset({"\0"})  # never all present: always the full check
        node.choice_names = frozenset(name for _, names in node.choices for name in names)

    def _types(self, definition: _Definition, raw: dict[str, Any]) -> list[dict[str, Any]]:
        reference = raw.get("contentReference")
        if reference:
            target = definition.by_id[reference.lstrip("#")]
            return [{"code": "BackboneElement", "contentReference": reference.lstrip("#"), **t}
                    for t in target.get("type", [])]
        return list(raw.get("type", []))

    def _child(
        self, definition: _Definition, raw: dict[str, Any], element: Element, key: str, type_entry: dict[str, Any]
    ) -> Child:
        code: str = type_entry["code"]
        profiles = type_entry.get("profile") or []
        if is_primitive(code):
            plain = (element.fixed is None and element.pattern is None and element.binding is None
                     and not element.constraints and not element.repeats and element.max != 0)
            return Child(key, element, code, PRIMITIVE, check=CHECKS.get(code, CHECKS["string"]), plain=plain,
                         text=TEXT_KINDS.get(code, 0))
        if code == "Resource" or self._is_resource(code):
            types = None if code == "Resource" else frozenset({code})
            return Child(key, element, code, RESOURCE, profile=profiles[0] if profiles else None, resource_types=types)
        if "contentReference" in type_entry:
            target_id = type_entry["contentReference"]
            return Child(key, element, code, COMPLEX, node=self._node(definition, target_id, code))
        if definition.children.get(raw["id"]):
            root = self._type_root(code, profiles)
            return Child(key, element, code, COMPLEX, node=self._node(definition, raw["id"], code, root))
        if profiles and self.has_profile(profiles[0]):
            return Child(key, element, code, COMPLEX, node=self.profile(profiles[0]).node, profile=profiles[0])
        if code == "BackboneElement":
            return Child(key, element, code, COMPLEX, node=self._node(definition, raw["id"], code))
        return Child(key, element, code, COMPLEX, node=self.type_node(code), profile=profiles[0] if profiles else None)

    def _is_resource(self, code: str) -> bool:
        base = self._package.base_definition(code)
        return base is not None and base.get("kind") == "resource"

    # --- elements --------------------------------------------------------------------------------------------------
    def _element(self, definition: _Definition, raw: dict[str, Any]) -> Element:
        base_max = raw.get("base", raw).get("max", raw.get("max", "1"))
        raw_max = raw.get("max", "*")
        element = Element(
            id=raw["id"],
            profile=definition.url,
            min=int(raw.get("min", 0)),
            max=None if raw_max == "*" else int(raw_max),
            repeats=base_max != "1" and base_max != "0",
            binding=self._terminology.binding(raw),
        )
        for key, value in raw.items():
            if key.startswith("fixed"):
                element.fixed = value
            elif key.startswith("pattern"):
                element.pattern = value
        targets: set[str] = set()
        for type_entry in raw.get("type", []):
            if type_entry["code"] == "Reference":
                for target in type_entry.get("targetProfile", []):
                    targets.add(self._target_type(target))
        if targets and "Resource" not in targets:
            element.targets = frozenset(targets)
        source = raw
        if raw.get("contentReference") and "constraint" not in raw:
            source = definition.by_id[raw["contentReference"].lstrip("#")]  # Parameters.parameter.part: inv-1
        choices: frozenset[str] | None = None
        for constraint in source.get("constraint", []):
            if not self._evaluated(constraint):
                continue
            if choices is None:
                choices = self._focus_choices(definition, source)
            compiled = compile_invariant(constraint["expression"], path=raw["path"], focus_choices=choices)
            element.constraints.append(Constraint(
                key=constraint["key"],
                severity=constraint.get("severity", "error"),
                human=constraint.get("human", constraint["key"]),
                expression=constraint["expression"],
                evaluate=compiled.evaluate,
                guard=compiled.guard,
                differs=compiled.differs,
            ))
        if element.constraints:
            element.check = combine(tuple((c.guard, c.differs, c.evaluate) for c in element.constraints))
        return element

    def _evaluated(self, constraint: dict[str, Any]) -> bool:
        """Whether a constraint is evaluated through FHIRPath: not native, and best practice only when asked."""
        key = constraint["key"]
        if key in NATIVE_INVARIANTS or "expression" not in constraint:
            return False
        best_practice = key in NARRATIVE or any(
            e.get("url") == BEST_PRACTICE_URL and e.get("valueBoolean") for e in constraint.get("extension", []))
        return self._best_practice or not best_practice

    def _focus_choices(self, definition: _Definition, raw: dict[str, Any]) -> frozenset[str] | None:
        """The choice elements (value[x] → `value`) of the element's value, for invariants; None when unknown."""
        children = definition.children.get(raw["id"])
        if children:
            return frozenset(name[:-3] for name, _, _ in children if name.endswith("[x]"))
        types = raw.get("type") or []
        if len(types) != 1 or is_primitive(types[0]["code"]):
            return None
        code = types[0]["code"]
        if code not in self._type_choices:
            base = self._package.base_definition(code)
            self._type_choices[code] = None if base is None else frozenset(
                e["path"].rsplit(".", 1)[1][:-3] for e in base["snapshot"]["element"][1:]
                if e["path"].count(".") == 1 and e["path"].endswith("[x]"))
        return self._type_choices[code]

    def _target_type(self, url: str) -> str:
        if url.startswith(FHIR_SD):
            return url[len(FHIR_SD):]
        sd = self._package.get(url)
        if sd is None:
            raise PackageError(f"reference target profile {url} is not in the package")
        return str(sd["type"])

    # --- slicing ---------------------------------------------------------------------------------------------------
    def _slicing(
        self, definition: _Definition, raw: dict[str, Any], element: Element, key: str, slice_elements: list[Any]
    ) -> Slicing:
        spec = raw["slicing"]
        discriminators = [(d["type"], d["path"]) for d in spec.get("discriminator", [])]
        result = Slicing(discriminators, spec.get("rules", "open"), bool(spec.get("ordered", False)))
        lookup: dict[Any, int] | None = {} if len(discriminators) == 1 else None
        for slice_raw in slice_elements:
            slice_element = self._element(definition, slice_raw)
            type_entry = (slice_raw.get("type") or raw.get("type") or [{"code": "Element"}])[0]
            child = self._child(definition, slice_raw, slice_element, key, type_entry)
            matchers = []
            described = []
            for kind, path in discriminators:
                matcher, text, keys = self._discriminator(definition, slice_raw, kind, path)
                matchers.append(matcher)
                described.append(text)
                if lookup is not None and keys is None:
                    lookup = None
                elif lookup is not None and keys is not None:
                    for one in keys:
                        lookup.setdefault(one, len(result.slices))
            result.slices.append(Slice(slice_raw["sliceName"], slice_element, slicing.all_of(matchers), child,
                                       " and ".join(described)))
        key_of = slicing.key_function(*discriminators[0]) if lookup is not None else None
        if key_of is not None:
            result.lookup, result.key_of = lookup, key_of
        return result

    def _discriminator(
        self, definition: _Definition, slice_raw: dict[str, Any], kind: str, path: str
    ) -> tuple[slicing.Matcher, str, tuple[Any, ...] | None]:
        """The slice's matcher for one discriminator, its description, and the lookup keys it selects (None: it
        cannot be looked up)."""
        target = slice_raw if path in ("$this", "") else self._descendant(definition, slice_raw["id"], path)
        name = slice_raw["sliceName"]
        if kind in ("value", "pattern"):
            expected, is_pattern = self._discriminator_value(slice_raw, target, path)
            if expected is None:
                raise PackageError(f"slice {slice_raw['id']}: no fixed or pattern value at {path!r}")
            shown = expected if isinstance(expected, str) else _short(expected)
            keys = None if is_pattern or kind != "value" or isinstance(expected, dict | list) else (expected,)
            return slicing.value_matcher(path, expected, pattern=is_pattern), f"{path} = {shown}", keys
        if kind == "type":
            codes = frozenset(t["code"] for t in (target or {}).get("type", []))
            if not codes:
                raise PackageError(f"slice {slice_raw['id']}: no type at {path!r}")
            return slicing.type_matcher(path, codes), f"{path} is a {' or '.join(sorted(codes))}", tuple(sorted(codes))
        if kind == "profile":
            profiles = [p for t in (target or {}).get("type", []) for p in t.get("profile", [])]
            if not profiles:
                raise PackageError(f"slice {slice_raw['id']}: no profile at {path!r}")
            return (slicing.profile_matcher(path, profiles[0], self._conforms), f"{path} conforms to {profiles[0]}",
                    None)
        if kind == "exists":
            present = target is not None and int(target.get("min", 0)) > 0
            return slicing.exists_matcher(path, present), f"{path} {'exists' if present else 'is absent'}", None
        raise PackageError(f"slice {name}: unsupported discriminator type {kind!r}")

    def _descendant(self, definition: _Definition, slice_id: str, path: str) -> dict[str, Any] | None:
        return definition.by_id.get(f"{slice_id}.{path}")

    def _discriminator_value(
        self, slice_raw: dict[str, Any], target: dict[str, Any] | None, path: str
    ) -> tuple[Any, bool]:
        if path == "url":
            profiles = [p for t in slice_raw.get("type", []) for p in t.get("profile", [])]
            if profiles:
                return profiles[0], False
        for source in (target, slice_raw if target is None else None):
            if source is None:
                continue
            for key, value in source.items():
                if key.startswith("fixed"):
                    return value, False
                if key.startswith("pattern"):
                    return value, True
        return None, False


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
