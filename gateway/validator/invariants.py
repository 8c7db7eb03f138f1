"""FHIRPath invariants (ElementDefinition.constraint) evaluated with fhirpathpy, plus the functions it lacks.

fhirpathpy 2.x has no `hasValue()`, `htmlChecks()`, `conformsTo()` or `memberOf()`; invariants need the first, and
the others are given their lenient meaning (true) so that expressions using them still evaluate.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import fhirpathpy

from gateway.validator.fhirpath_fast import compile_fast


def _has_value(inputs: list[Any]) -> list[bool]:
    """True when the input is a single primitive with a value (FHIRPath `hasValue()`)."""
    return [len(inputs) == 1 and isinstance(inputs[0], str | bool | int | float | Decimal)]


def _get_value(inputs: list[Any]) -> list[Any]:
    if len(inputs) == 1 and isinstance(inputs[0], str | bool | int | float | Decimal):
        return [inputs[0]]
    return []


def _always_true(inputs: list[Any], *args: Any) -> list[bool]:
    return [True]


EXTRA_FUNCTIONS: dict[str, dict[str, Any]] = {
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "getValue": {"fn": _get_value, "arity": {0: []}},
    "htmlChecks": {"fn": _always_true, "arity": {0: []}},
    "conformsTo": {"fn": _always_true, "arity": {1: ["String"]}},
    "memberOf": {"fn": _always_true, "arity": {1: ["String"]}},
}
_OPTIONS = {"userInvocationTable": EXTRA_FUNCTIONS}


class InvariantError(Exception):
    """An invariant's expression cannot be parsed (a fault in the profile)."""


def compile_invariant(expression: str, *, fast: bool = True) -> Callable[[Any], bool | None]:
    """`expression` as a function of the element's JSON value: True (holds), False (fails), None (not evaluable).

    Expressions in the subset `fhirpath_fast` compiles run as closures; the rest through fhirpathpy.
    """
    compiled = compile_fast(expression) if fast else None
    if compiled is not None:
        return _verdict(compiled)
    try:
        path = fhirpathpy.compile(expression, options=_OPTIONS)
    except Exception as exc:  # noqa: BLE001 - the ANTLR parser raises plain Exceptions
        raise InvariantError(f"cannot parse FHIRPath {expression!r}: {exc}") from exc

    return _verdict(lambda value: path(value, None))


def _verdict(run: Callable[[Any], list[Any]]) -> Callable[[Any], bool | None]:
    def evaluate(value: Any) -> bool | None:
        try:
            result = run(value)
        except Exception:  # noqa: BLE001 - evaluation errors are reported as "not evaluated"
            return None
        if not result:
            return True  # an empty result does not contradict the invariant
        if len(result) == 1 and isinstance(result[0], bool):
            return result[0]
        return None

    return evaluate
