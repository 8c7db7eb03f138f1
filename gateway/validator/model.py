"""The compiled form of StructureDefinition snapshots: per-element tables the walker reads, built once at load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.validator.primitives import PrimitiveCheck
from gateway.validator.terminology import Binding

PRIMITIVE = 0
COMPLEX = 1
RESOURCE = 2


@dataclass(slots=True)
class Constraint:
    """An ElementDefinition.constraint (FHIRPath invariant), compiled."""

    key: str
    severity: str
    human: str
    expression: str
    evaluate: Callable[[Any, Any, Any], bool | None]  # (value, %resource, %rootResource); None: not evaluable
    guard: frozenset[str] = frozenset()  # the invariant holds when any of these elements of the value is absent
    differs: tuple[tuple[str, str], ...] = ()  # …or when the value's `name` is a single string other than `literal`


@dataclass(slots=True)
class Element:
    """One snapshot ElementDefinition: cardinality, fixed/pattern value, binding, reference targets, invariants."""

    id: str
    profile: str
    min: int
    max: int | None  # None: unbounded
    repeats: bool
    fixed: Any = None
    pattern: Any = None
    binding: Binding | None = None
    targets: frozenset[str] | None = None  # allowed Reference target types; None: any
    constraints: list[Constraint] = field(default_factory=list)
    # All constraints at once: (value, %resource, %rootResource) → [(index, False | None)] or None (all hold).
    check: Callable[[Any, Any, Any], list[tuple[int, bool | None]] | None] | None = None
    slicing: Slicing | None = None


@dataclass(slots=True)
class Child:
    """One JSON property of a complex element: `valueCoding` and `valueString` are two children of value[x]."""

    name: str
    element: Element
    type_code: str
    kind: int
    check: PrimitiveCheck | None = None
    plain: bool = False  # a single primitive with no fixed/pattern value, binding, invariant or max 0: check only
    text: int = 0  # primitives.TEXT_KINDS: strings valid without calling `check`
    bare: bool | None = None  # COMPLEX with nothing to check but its children (set by the walker on first use)
    node: Node | None = None  # COMPLEX: the children of the value; RESOURCE: unused
    profile: str | None = None  # RESOURCE: the profile its slice or type requires
    resource_types: frozenset[str] | None = None  # RESOURCE: the types allowed here; None: any
    # Walk plans (gateway.validator.plan), made on first use: the property (value, parent path, ctx) and one value
    # of it (value, own path, ctx).
    visit: Callable[[Any, str, Any], None] | None = None
    item: Callable[[Any, str, Any], None] | None = None


@dataclass(slots=True)
class Node:
    """What one complex value (an object) may hold."""

    type_code: str
    children: dict[str, Child] = field(default_factory=dict)
    # Elements with min ≥ 1 and the JSON names that satisfy them (choice types have several; `_x` counts too).
    required: list[tuple[Element, tuple[str, ...]]] = field(default_factory=list)
    # Choice elements (value[x]) and their JSON names: at most one may be present.
    choices: list[tuple[Element, tuple[str, ...]]] = field(default_factory=list)
    # Fast paths: every required element that has one JSON name (and those that repeat, where [] is missing too),
    # and every JSON name of a choice.
    required_names: frozenset[str] = frozenset()
    required_lists: tuple[str, ...] = ()
    choice_names: frozenset[str] = frozenset()
    # The root element of the datatype (or datatype profile) whose invariants hold for every value (per-1, qty-3…).
    root: Element | None = None
    ready: bool = False
    walk: Callable[[dict[str, Any], str, Any, bool], None] | None = None  # its walk plan, made on first use


@dataclass(slots=True)
class Slice:
    """One named slice: how to recognise its items, its cardinality, and the node its items are checked against."""

    name: str
    element: Element
    matches: Callable[[Any], bool]
    child: Child
    describe: str  # what an item must look like to be in this slice, for explanations


@dataclass(slots=True)
class Slicing:
    discriminators: list[tuple[str, str]]
    rules: str  # open, closed, openAtEnd
    ordered: bool
    slices: list[Slice] = field(default_factory=list)
    # One `value` or `type` discriminator on a property: its value (or resource type) → the first slice it selects.
    lookup: dict[Any, int] | None = None
    key_of: Callable[[Any], Any] | None = None  # the item's key, or slicing.NO_KEY: match slice by slice
