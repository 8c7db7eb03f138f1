"""FHIRPath invariants (ElementDefinition.constraint): the fast compiler first, fhirpathpy for the rest.

fhirpathpy 2.x has no `hasValue()`, `htmlChecks()`, `conformsTo()` or `memberOf()`; invariants need the first two
(`htmlChecks()` is the narrative check of `fhirpath_values`), and the others are given their lenient meaning (true)
so that expressions using them still evaluate. fhirpathpy runs with its R4 model and the element's path, so choice
elements (`value` → `valueString`) resolve as in the fast compiler, and with `%resource` and `%rootResource`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from gateway.validator.fhirpath_fast import compile_fast
from gateway.validator.fhirpath_values import PRIMITIVE, html_checks

_R4 = models["r4"]


def _data(item: Any) -> Any:
    return item.data if isinstance(item, ResourceNode) else item


def _has_value(inputs: list[Any]) -> list[bool]:
    """True when the input is a single primitive with a value (FHIRPath `hasValue()`)."""
    return [len(inputs) == 1 and isinstance(_data(inputs[0]), PRIMITIVE)]


def _get_value(inputs: list[Any]) -> list[Any]:
    if len(inputs) == 1 and isinstance(_data(inputs[0]), PRIMITIVE):
        return [_data(inputs[0])]
    return []


def _html_checks(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and html_checks(_data(inputs[0]))] if inputs else []


def _always_true(inputs: list[Any], *args: Any) -> list[bool]:
    return [True]


EXTRA_FUNCTIONS: dict[str, dict[str, Any]] = {
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "getValue": {"fn": _get_value, "arity": {0: []}},
    "htmlChecks": {"fn": _html_checks, "arity": {0: []}},
    "conformsTo": {"fn": _always_true, "arity": {1: ["String"]}},
    "memberOf": {"fn": _always_true, "arity": {1: ["String"]}},
}
_OPTIONS = {"userInvocationTable": EXTRA_FUNCTIONS}


class InvariantError(Exception):
    """An invariant's expression cannot be parsed (a fault in the profile)."""


Evaluate = Callable[[Any, Any, Any], "bool | None"]


@dataclass(frozen=True, slots=True)
class CompiledInvariant:
    """`evaluate(value, resource, root)`: True (holds), False (fails), None (could not be evaluated).

    `guard`: element names of the value whose absence alone makes the invariant hold (empty for fhirpathpy)."""

    guard: frozenset[str]
    differs: tuple[tuple[str, str], ...]  # (name, literal): holds when the value's `name` is another single string
    evaluate: Evaluate
    fast: bool


@functools.lru_cache(maxsize=4096)
def compile_invariant(
    expression: str, *, fast: bool = True, path: str | None = None, focus_choices: frozenset[str] | None = None
) -> CompiledInvariant:
    """`expression` on the value of the element at `path` (e.g. `Timing.repeat`, `Patient`), compiled (once: the
    same invariant on the same element of many profiles shares its code)."""
    compiled = compile_fast(expression, focus_choices) if fast else None
    if compiled is not None:
        return CompiledInvariant(compiled.guard, compiled.differs, compiled.evaluate, True)
    try:
        parsed = fhirpathpy.compile(expression, model=_R4, options=_OPTIONS)
    except Exception as exc:  # noqa: BLE001 - the ANTLR parser raises plain Exceptions
        raise InvariantError(f"cannot parse FHIRPath {expression!r}: {exc}") from exc
    base = path.split(":", 1)[0] if path else None

    def run(value: Any, resource: Any, root: Any) -> list[Any]:
        focus = ResourceNode.create_node(value, base) if base and isinstance(value, dict) else value  # type: ignore[no-untyped-call]
        variables = {name: data for name, data in (("resource", resource), ("rootResource", root)) if data is not None}
        return list(parsed(focus, variables))

    return CompiledInvariant(frozenset(), (), _verdict(run), False)


def _verdict(run: Callable[[Any, Any, Any], list[Any]]) -> Evaluate:
    def evaluate(value: Any, resource: Any = None, root: Any = None) -> bool | None:
        try:
            result = run(value, resource, root)
        except Exception:  # noqa: BLE001 - evaluation errors are reported as "not evaluated"
            return None
        if not result:
            return True  # an empty result does not contradict the invariant
        if len(result) == 1 and isinstance(result[0], bool):
            return result[0]
        return None

    return evaluate


Failures = list[tuple[int, "bool | None"]]  # (index of the constraint, False: failed / None: not evaluated)


@functools.lru_cache(maxsize=4096)
def combine(invariants: tuple[tuple[frozenset[str], tuple[tuple[str, str], ...], Evaluate], ...]) -> Callable[
        [Any, Any, Any], Failures | None]:
    """One function checking all the invariants of an element: `check(value, resource, root)` → the failures, or
    None. Guards are tested inline (`'period' in value`), so an invariant settled by its guard costs no call."""
    namespace: dict[str, Any] = {}
    lines = ["def check(I, R, RR):", "    bad = None", "    d = type(I) is dict"]
    for index, (guard, differs, evaluate) in enumerate(invariants):
        namespace[f"f{index}"] = evaluate
        tests = [f"{name!r} in I" for name in sorted(guard)]
        tests += [f"(type(I.get({name!r})) is not str or I.get({name!r}) == {literal!r})" for name, literal in differs]
        indent = "    "
        if tests:
            lines.append(f"    if not d or ({' and '.join(tests)}):")
            indent = "        "
        lines += [f"{indent}r = f{index}(I, R, RR)", f"{indent}if r is not True:",
                  f"{indent}    bad = (bad or []) + [({index}, r)]"]
    lines.append("    return bad")
    exec(compile("\n".join(lines) + "\n", "<invariants>", "exec"), namespace)  # noqa: S102 - generated here
    return namespace["check"]  # type: ignore[no-any-return]
