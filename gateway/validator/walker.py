"""The hot loop: one pass over a resource's JSON against compiled profile tables.

Checks structure (unknown elements, JSON and primitive types), cardinality, fixed and pattern values, bindings,
slices and invariants; collects references for the Bundle rules and hands typed values to the domain hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from gateway.validator import issues as codes
from gateway.validator import plan
from gateway.validator.checks import check_code, check_coded, check_contained_referenced, check_invariants
from gateway.validator.compiler import Compiler, Profile
from gateway.validator.context import Context, Frame, Ref
from gateway.validator.model import COMPLEX, PRIMITIVE, RESOURCE, Child, Element, Node, Slicing
from gateway.validator.package import Package, PackageError
from gateway.validator.primitives import plainly_valid
from gateway.validator.slicing import NO_KEY, matches_pattern
from gateway.validator.terminology import Terminology

Hook = Callable[[dict[str, Any], str, Element, Context], None]
# A type's hook, and the `system`s of the values it is called for (None: every value).
TypeHook = tuple[Hook, frozenset[str] | None]
ResourceRule = Callable[[dict[str, Any], str, Context], None]
ProfileChooser = Callable[[dict[str, Any]], str | None]


class Walker:
    def __init__(
        self,
        package: Package,
        compiler: Compiler,
        terminology: Terminology,
        hooks: dict[str, TypeHook],
        resource_rules: dict[str, list[ResourceRule]],
        choose_profile: ProfileChooser,
    ) -> None:
        self._package = package
        self._compiler = compiler
        self._terminology = terminology
        self._hooks = hooks
        self._rules = resource_rules
        self._choose_profile = choose_profile
        self._extension_node = compiler.type_node("Extension")
        self._displays: dict[str, dict[str, str] | None] = {}
        self._extension_nodes: dict[str, Node | None] = {}  # extension url → its definition's node (None: unknown)

    # --- resources -------------------------------------------------------------------------------------------------
    def resource(self, resource: Any, path: str, profile: str | None, ctx: Context, contained: bool = False) -> None:
        if type(resource) is not dict:
            ctx.add(codes.NOT_A_RESOURCE, "a FHIR resource must be a JSON object", path, value=resource)
            return
        resource_type = resource.get("resourceType")
        if type(resource_type) is not str:
            ctx.add(codes.UNKNOWN_RESOURCE_TYPE, "missing resourceType", path + ".resourceType", value=resource_type)
            return
        compiled = self._profile_for(resource, resource_type, path, profile, ctx)
        if compiled is None:
            return
        contained_ids = {}
        for item in resource.get("contained", ()) if type(resource.get("contained")) is list else ():
            if type(item) is dict and type(item.get("id")) is str:
                contained_ids[item["id"]] = str(item.get("resourceType"))
        outer = ctx.frame
        parent = outer if contained else None
        ctx.frame = Frame(resource_type, path, contained_ids, parent, resource,
                          parent.root if parent is not None else resource)
        saved_refs = ctx.refs
        is_bundle = resource_type == "Bundle"
        if is_bundle:
            ctx.refs = []
        try:
            self.object(compiled.node, resource, path, ctx, root=True)
            if compiled.root.constraints:
                check_invariants(compiled.root, resource, path, ctx)
            if contained_ids:
                check_contained_referenced(resource, path, compiled.root, ctx)
            for rule in self._rules.get(resource_type, ()):
                rule(resource, path, ctx)
        finally:
            if is_bundle:
                ctx.refs = saved_refs
            ctx.frame = outer

    def _profile_for(
        self, resource: dict[str, Any], resource_type: str, path: str, profile: str | None, ctx: Context
    ) -> Profile | None:
        url = profile or self._choose_profile(resource)
        if url is not None:
            try:
                compiled = self._compiler.profile(url)
            except PackageError:
                ctx.add(codes.UNKNOWN_PROFILE, f"profile {url} is not in the package; checked against the base "
                        "definition only", path, severity="warning", profile=url)
            else:
                if compiled.type != resource_type:
                    ctx.add(codes.INVALID_TYPE, f"profile {url} is for {compiled.type} resources",
                            path + ".resourceType", value=resource_type, expected=compiled.type, profile=url)
                    return None
                return compiled
        if self._package.base_definition(resource_type) is not None:
            return self._compiler.profile(self._package.base_definition(resource_type)["url"])  # type: ignore[index]
        if _is_fhir_resource_type(resource_type):
            ctx.add(codes.UNSUPPORTED_RESOURCE_TYPE, f"{resource_type} resources are not checked (no definition "
                    "in the package)", path, severity="information", value=resource_type)
        else:
            ctx.add(codes.UNKNOWN_RESOURCE_TYPE, "not a FHIR R4 resource type", path + ".resourceType",
                    value=resource_type)
        return None

    # --- objects ---------------------------------------------------------------------------------------------------
    def object(self, node: Node, obj: dict[str, Any], path: str, ctx: Context, root: bool = False) -> None:
        """Check one object against its node, through the node's walk plan (gateway.validator.plan)."""
        (node.walk or self.plan_node(node))(obj, path, ctx, root)

    def plan_node(self, node: Node) -> plan.NodeWalk:
        node.walk = plan.node_walk(self, node)
        return node.walk

    def child_generic(self, child: Child, value: Any, path: str, ctx: Context) -> None:
        """One property (not `plain`) of an object at `path`: what the plans do, with every finding reported."""
        element = child.element
        key = child.name
        p = path + "." + key
        if element.repeats:
            if type(value) is not list:
                ctx.add(codes.EXPECTED_ARRAY, f"{key} repeats: it must be a JSON array", p, element)
                return
            if not value:
                # EPS itself sends (and accepts) `"focus": []`; it means nothing, so it is only a warning.
                ctx.add(codes.EMPTY_ELEMENT, "empty arrays are not valid FHIR JSON (leave the element out)", p,
                        element, severity="warning")
                return
            if element.max is not None and len(value) > element.max:
                self._too_many(element, len(value), p, ctx)
            if element.slicing is not None:
                self.sliced(child, value, p, ctx)
                return
            bare = self.is_bare(child)
            hook = self.hook_of(child)
            for i, item in enumerate(value):
                if bare and type(item) is dict and item:
                    self.object(child.node, item, f"{p}[{i}]", ctx)  # type: ignore[arg-type]
                    if hook is not None and (hook[1] is None or _in_systems(item.get("system"), hook[1])):
                        hook[0](item, f"{p}[{i}]", element, ctx)
                else:
                    self.value_generic(child, item, f"{p}[{i}]", ctx)
            return
        if type(value) is list:
            ctx.add(codes.UNEXPECTED_ARRAY, f"{key} does not repeat: it must not be a JSON array", p, element)
            return
        if element.max == 0:
            self._too_many(element, 1, p, ctx)
        if self.is_bare(child) and type(value) is dict and value:
            self.object(child.node, value, p, ctx)  # type: ignore[arg-type]
            hook = self.hook_of(child)
            if hook is not None and (hook[1] is None or _in_systems(value.get("system"), hook[1])):
                hook[0](value, p, element, ctx)
        else:
            self.value_generic(child, value, p, ctx)

    def plain_problem(self, child: Child, key: str, value: Any, path: str, ctx: Context) -> None:
        """A `plain` child whose value is not plainly valid: its check decides."""
        problem = child.check(value) if type(value) is not list else "must not be a JSON array"  # type: ignore[misc]
        if problem is not None:
            ctx.add(codes.UNEXPECTED_ARRAY if type(value) is list else codes.INVALID_FORMAT, problem,
                    path + "." + key, child.element, value=value, expected=child.type_code)

    def choices(self, node: Node, obj: dict[str, Any], path: str, ctx: Context) -> None:
        for element, names in node.choices:
            present = [name for name in names if name in obj]
            if len(present) > 1:
                ctx.add(codes.TOO_MANY, f"only one of {', '.join(present)} may be present (one value of a "
                        "choice)", f"{path}.{present[1]}", element)

    def hook_of(self, child: Child) -> TypeHook | None:
        return self._hooks.get(child.type_code)

    def missing(self, node: Node, obj: dict[str, Any], path: str, ctx: Context) -> None:
        for element, names in node.required:
            for name in names:
                if name in obj and obj[name] != []:
                    break
            else:
                name = element.id.rsplit(".", 1)[-1].split(":", 1)[0].replace("[x]", "")
                ctx.add(codes.MISSING_ELEMENT, f"{name} is required (min {element.min})", f"{path}.{name}", element,
                        expected=f"at least {element.min}")

    def is_bare(self, child: Child) -> bool:
        """A complex child whose values need only their own children checked, and the type's hook called (no
        binding, fixed or pattern value, invariant, reference or extension)."""
        if child.bare is not None:
            return child.bare
        element = child.element
        child.bare = (child.kind == COMPLEX and child.type_code not in ("Reference", "Extension")
                and element.fixed is None and element.pattern is None
                and element.binding is None and not element.constraints)
        return child.bare

    def unknown(self, children: dict[str, Child], key: str, value: Any, path: str, ctx: Context, root: bool) -> None:
        if key[:1] == "_":
            base = children.get(key[1:])
            if base is not None and base.kind == PRIMITIVE:
                self._primitive_extensions(base, value, path + "." + key[1:], ctx)
                return
        if root and key == "resourceType":
            return
        ctx.add(codes.UNKNOWN_ELEMENT, f"unknown element {key!r}", path + "." + key, value=value)

    def _primitive_extensions(self, child: Child, value: Any, path: str, ctx: Context) -> None:
        """`_name`: the id and extensions of a primitive (an object, or an array of objects and nulls)."""
        repeats = child.element.repeats and type(value) is list
        for index, item in enumerate(value if repeats else [value]):
            item_path = f"{path}[{index}]" if repeats else path
            if item is None:
                continue
            if type(item) is not dict or not item or set(item) - {"id", "extension"}:
                ctx.add(codes.INVALID_TYPE, "a primitive's _element holds only id and extension", item_path,
                        child.element)
                continue
            extensions = item.get("extension", [])
            if type(extensions) is not list:
                ctx.add(codes.EXPECTED_ARRAY, "extension repeats: it must be a JSON array", item_path, child.element)
                continue
            for i, extension in enumerate(extensions):
                ext_path = f"{item_path}.extension[{i}]"
                if type(extension) is dict and extension:
                    self.extension(self._extension_node, extension, ext_path, ctx)
                else:
                    ctx.add(codes.INVALID_TYPE, "an Extension must be a JSON object", ext_path, child.element)

    def _too_many(self, element: Element, count: int, path: str, ctx: Context) -> None:
        if element.max == 0:
            ctx.add(codes.ELEMENT_NOT_ALLOWED, "this element is not allowed by the profile (max 0)", path, element)
        else:
            ctx.add(codes.TOO_MANY, f"at most {element.max} allowed, found {count}", path, element,
                    expected=f"at most {element.max}")

    # --- values ----------------------------------------------------------------------------------------------------
    def value(self, child: Child, item: Any, path: str, ctx: Context) -> None:
        """One value of a child at its own `path`, through the child's plan."""
        (child.item or plan.child_item(self, child))(item, path, ctx)

    def value_generic(self, child: Child, item: Any, path: str, ctx: Context) -> None:
        """One value of a child: what the plans do, with every finding reported."""
        kind = child.kind
        element = child.element
        if kind == PRIMITIVE:
            if item is None:
                return  # a null placeholder paired with `_name`
            if child.text and type(item) is str and plainly_valid(child.text, item):
                problem = None
            else:
                problem = child.check(item)  # type: ignore[misc]
            if problem is not None:
                ctx.add(codes.INVALID_FORMAT, problem, path, element, value=item, expected=child.type_code)
                return
            if element.fixed is not None and item != element.fixed:
                ctx.add(codes.FIXED_VALUE_MISMATCH, f"must be exactly {element.fixed!r}", path, element,
                        value=item, expected=str(element.fixed))
            elif element.pattern is not None and item != element.pattern:
                ctx.add(codes.PATTERN_MISMATCH, f"must be {element.pattern!r}", path, element, value=item,
                        expected=str(element.pattern))
            if element.binding is not None and child.type_code == "code":
                check_code(item, element, path, ctx)
            if element.constraints:
                check_invariants(element, item, path, ctx)
            return
        if kind == COMPLEX:
            if type(item) is not dict:
                ctx.add(codes.INVALID_TYPE, f"a {child.type_code} must be a JSON object", path, element, value=item)
                return
            if not item:
                ctx.add(codes.EMPTY_ELEMENT, "empty objects are not valid FHIR (leave the element out)", path, element)
                return
            if child.type_code == "Extension":
                self.extension(child.node, item, path, ctx, element)  # type: ignore[arg-type]
            else:
                self.object(child.node, item, path, ctx)  # type: ignore[arg-type]
            if element.fixed is not None and item != element.fixed:
                ctx.add(codes.FIXED_VALUE_MISMATCH, "must be exactly the fixed value", path, element,
                        expected=repr(element.fixed))
            if element.pattern is not None and not matches_pattern(item, element.pattern):
                ctx.add(codes.PATTERN_MISMATCH, f"must match the pattern {element.pattern!r}", path, element,
                        expected=repr(element.pattern))
            if element.binding is not None:
                check_coded(child.type_code, item, element, path, ctx)
            hook = self._hooks.get(child.type_code)
            if hook is not None and (hook[1] is None or _in_systems(item.get("system"), hook[1])):
                hook[0](item, path, element, ctx)
            if child.type_code == "Reference":
                reference = item.get("reference")
                if type(reference) is str and ctx.frame is not None:
                    ctx.refs.append(Ref(path + ".reference", reference, element.targets, element, ctx.frame,
                                        "identifier" in item))
            if element.constraints:
                check_invariants(element, item, path, ctx)
            return
        if kind == RESOURCE:
            if type(item) is dict and child.resource_types is not None:
                if item.get("resourceType") not in child.resource_types:
                    ctx.add(codes.INVALID_TYPE, f"must be a {' or '.join(sorted(child.resource_types))} resource",
                            path + ".resourceType", element, value=item.get("resourceType"))
                    return
            self.resource(item, path, child.profile, ctx, contained=child.name == "contained")

    def extension(self, node: Node, item: dict[str, Any], path: str, ctx: Context, element: Element | None = None
                   ) -> None:
        url = item.get("url")
        if node is self._extension_node and type(url) is str:
            if url not in self._extension_nodes:
                self._extension_nodes[url] = self._compiler.profile(url).node if self._compiler.has_profile(url) \
                    else None
            defined = self._extension_nodes[url]
            if defined is not None:
                node = defined
            elif url not in ctx.reported_extensions and "://" in url:
                ctx.reported_extensions.add(url)
                ctx.add(codes.UNKNOWN_EXTENSION, f"extension {url} is not defined in the package; only its "
                        "structure is checked", path, element, severity="information", value=url)
        values = [k for k in item if k[:5] == "value"]
        if len(values) > 1:
            ctx.add(codes.TOO_MANY, f"only one of {', '.join(values)} may be present (one value of a choice)",
                    f"{path}.{values[1]}", element)
        if bool(values) == ("extension" in item):
            ctx.add(codes.INVARIANT_FAILED, "ext-1: an extension has either a value[x] or extensions, not both",
                    path, element)
        self.object(node, item, path, ctx)

    # --- slicing ---------------------------------------------------------------------------------------------------
    def sliced(self, child: Child, items: list[Any], path: str, ctx: Context) -> None:
        slicing = child.element.slicing
        assert slicing is not None  # noqa: S101 - only called for sliced elements
        counts = [0] * len(slicing.slices)
        for i, item in enumerate(items):
            item_path = f"{path}[{i}]"
            found = _slice_of(slicing, item)
            if found is not None:
                counts[found] += 1
                self.value(slicing.slices[found].child, item, item_path, ctx)
                continue
            if slicing.rules == "closed":
                wanted = "; ".join(f"{s.name}: {s.describe}" for s in slicing.slices)
                ctx.add(codes.NO_MATCHING_SLICE, f"matches none of the slices (closed slicing): {wanted}",
                        item_path, child.element)
            self.value(child, item, item_path, ctx)
        for one, count in zip(slicing.slices, counts, strict=True):
            if count < one.element.min:
                ctx.add(codes.SLICE_MISSING, f"required slice {one.name!r} is missing: no item where "
                        f"{one.describe}", path, one.element, expected=f"at least {one.element.min}")
            elif one.element.max is not None and count > one.element.max:
                ctx.add(codes.SLICE_TOO_MANY, f"slice {one.name!r} allows at most {one.element.max} item(s) where "
                        f"{one.describe}, found {count}", path, one.element)

    # --- terminology -----------------------------------------------------------------------------------------------
    def display_table(self, system: str) -> dict[str, str] | None:
        if system not in self._displays:
            self._displays[system] = self._terminology.displays_of(system)
        return self._displays[system]


def _in_systems(system: object, systems: Any) -> bool:
    """Whether an identifier's `system` is one of `systems`; a system that is not a string is in none (its type is
    reported where it stands)."""
    return type(system) is str and system in systems


def _slice_of(slicing: Slicing, item: Any) -> int | None:
    """The index of the first slice `item` belongs to (looked up by its discriminator value when possible)."""
    if slicing.key_of is not None:
        key = slicing.key_of(item)
        if key is not NO_KEY:
            if key is None or not isinstance(key, Hashable):
                return None  # an object or array where the discriminating code belongs: in no slice
            return slicing.lookup.get(key)  # type: ignore[union-attr]
    for index, one in enumerate(slicing.slices):
        if one.matches(item):
            return index
    return None


def _is_fhir_resource_type(name: str) -> bool:
    try:
        model = get_fhir_model_class(name)
    except (KeyError, ValueError, ImportError):
        return False
    return bool(model.__module__.rsplit(".", 1)[-1] == name.lower())
