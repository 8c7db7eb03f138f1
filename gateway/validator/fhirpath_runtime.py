"""The run-time helpers of the code `fhirpath_codegen` generates: collections in, collections or tri-state Booleans
(True / False / None for empty) out."""

from __future__ import annotations

import re
from typing import Any

from gateway.validator.fhirpath_values import (
    NUMBER,
    PRIMITIVE,
    EvaluationError,
    html_checks,
    number,
    order,
    same,
    to_string,
)


def _nav(items: list[Any], name: str) -> list[Any]:
    if len(items) == 1 and type(item := items[0]) is dict:
        value = item.get(name)
        if value is None:
            return []
        if type(value) is list:
            return [v for v in value if v is not None]
        return [value]
    out: list[Any] = []
    for item in items:
        if type(item) is dict and (value := item.get(name)) is not None:
            _add(out, value)
    return out


def _add(out: list[Any], value: Any) -> None:
    if type(value) is list:
        out.extend(v for v in value if v is not None)
    else:
        out.append(value)


def _navc(items: list[Any], name: str, suffixes: frozenset[str]) -> list[Any]:
    """A choice element: `value` finds `valueString`, `valueQuantity`…"""
    size = len(name)
    out: list[Any] = []
    for item in items:
        if type(item) is not dict:
            continue
        value = item.get(name)
        if value is None:
            value = next((v for k, v in item.items() if k[:size] == name and k[size:] in suffixes), None)
        if value is not None:
            _add(out, value)
    return out


def _present(value: Any) -> bool:
    return value is not None and (type(value) is not list or any(v is not None for v in value))


def _single(items: list[Any]) -> Any:
    if len(items) > 1:
        raise EvaluationError("a collection where one value is needed")
    return items[0]


def singleton_boolean(items: list[Any]) -> bool | None:
    """Singleton evaluation as a Boolean."""
    if not items:
        return None
    value = _single(items)
    return value if type(value) is bool else True


def _eq(a: list[Any], b: list[Any]) -> bool | None:
    if not a or not b:
        return None
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))


def _cmp(a: list[Any], b: list[Any], operator: str) -> bool | None:
    if not a or not b:
        return None
    result = order(_single(a), _single(b))
    if result is None:
        return None
    return result < 0 if operator == "<" else result <= 0 if operator == "<=" else result > 0 if operator == ">" \
        else result >= 0


def _in(member: list[Any], group: list[Any]) -> bool | None:
    if not member:
        return None
    item = _single(member)
    return any(same(item, other) for other in group)


def _union(a: list[Any], b: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in (*a, *b):
        if not any(same(item, seen) for seen in out):
            out.append(item)
    return out


def _arith(a: list[Any], b: list[Any], operator: str) -> list[Any]:
    if not a or not b:
        return []
    x, y = _single(a), _single(b)
    if isinstance(x, NUMBER) and isinstance(y, NUMBER) and type(x) is not bool and type(y) is not bool:
        x, y = number(x), number(y)
        return [x + y if operator == "+" else x - y]
    if operator == "+" and isinstance(x, str) and isinstance(y, str):
        return [x + y]
    raise EvaluationError(f"cannot apply {operator} to {type(x).__name__} and {type(y).__name__}")


def _text(items: list[Any]) -> str:
    return (to_string(_single(items)) or "") if items else ""


def _string(name: str, items: list[Any], *args: list[Any]) -> list[Any]:
    """matches, startsWith, contains, substring, length, toString, htmlChecks."""
    if not items or any(not a for a in args):
        return []
    value = _single(items)
    if name == "toString":
        text = to_string(value)
        return [] if text is None else [text]
    if name == "htmlChecks":
        return [html_checks(value)]
    if not isinstance(value, str):
        return []
    if name == "length":
        return [len(value)]
    first = _single(args[0])
    if name == "substring":
        start = int(first)
        if start < 0 or start >= len(value):
            return []
        return [value[start:start + int(_single(args[1]))] if len(args) > 1 else value[start:]]
    if name == "matches":
        return [re.search(first, value) is not None]
    if name == "startsWith":
        return [value.startswith(first)]
    return [first in value]


def _is(items: list[Any], type_name: str) -> list[Any]:
    if not items:
        return []
    item = _single(items)
    return [type(item) is dict and item.get("resourceType") == type_name]


def _get(item: Any, name: str) -> list[Any]:
    """`name` of the single focus item."""
    if type(item) is dict:
        value = item.get(name)
        if value is None:
            return []
        if type(value) is list:
            return [v for v in value if v is not None]
        return [value]
    return []


def _getc(item: Any, name: str, suffixes: frozenset[str]) -> list[Any]:
    return _navc([item], name, suffixes)


def _path(item: Any, steps: tuple[tuple[str, frozenset[str] | None], ...]) -> list[Any]:
    """`a.b.c` from the single focus item: `_get` (or `_getc`), then `_nav` (or `_navc`) for each further step."""
    items = [item]
    for name, suffixes in steps:
        if suffixes is None and len(items) == 1 and type(one := items[0]) is dict:
            value = one.get(name)
            if value is None:
                return []
            items = [v for v in value if v is not None] if type(value) is list else [value]
        else:
            items = _nav(items, name) if suffixes is None else _navc(items, name, suffixes)
            if not items:
                return items
    return items


def _has(item: Any, name: str) -> bool:
    return type(item) is dict and _present(item.get(name))


def _has_value(item: Any, name: str) -> bool:
    return type(item) is dict and isinstance(item.get(name), PRIMITIVE)


def _eq_item(item: Any, name: str, literal: str) -> bool | None:
    """`name = 'literal'` on the single focus item."""
    value = item.get(name) if type(item) is dict else None
    if value is None:
        return None
    if type(value) is not list:
        return type(value) is str and value == literal
    return _eq([v for v in value if v is not None], [literal])


RUNTIME: dict[str, Any] = {"_b": singleton_boolean} | {
    f.__name__: f for f in (_nav, _navc, _eq, _cmp, _in, _union, _arith, _text, _string, _is, _get, _getc,
                            _has, _has_value, _eq_item, _present, _path)
}
RUNTIME.update(_hasv=lambda items: len(items) == 1 and isinstance(items[0], PRIMITIVE))

