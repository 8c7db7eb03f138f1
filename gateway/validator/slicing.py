"""Slice discriminators (value, pattern, type, profile, exists) compiled into item matchers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Conforms = Callable[[Any, str], bool]
Matcher = Callable[[Any], bool]


def values_at(item: Any, path: str) -> list[Any]:
    """The values at a dotted discriminator path (`$this`, `url`, `type.coding`, `resource`), lists flattened."""
    current = [item]
    if path in ("$this", ""):
        return current
    for step in path.split("."):
        if step.endswith("[x]"):
            prefix = step[:-3]
            current = [v for c in current if isinstance(c, dict) for k, v in c.items() if k.startswith(prefix)]
        else:
            current = [c[step] for c in current if isinstance(c, dict) and step in c]
        current = list(_flatten(current))
    return current


def _flatten(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from value
        else:
            yield value


def matches_pattern(value: Any, pattern: Any) -> bool:
    """FHIR pattern[x] semantics: every property of the pattern is in the value; arrays match item by item."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(key in value and matches_pattern(value[key], expected) for key, expected in pattern.items())
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return False
        return all(any(matches_pattern(v, p) for v in value) for p in pattern)
    if type(value) is bool or type(pattern) is bool:
        return value is pattern
    return bool(value == pattern)


def _simple(path: str) -> bool:
    return path not in ("$this", "") and "." not in path and "[" not in path


def value_matcher(path: str, expected: Any, *, pattern: bool) -> Matcher:
    if _simple(path) and not pattern:
        # The common case (extension url, identifier system) without the general path walk.
        def matches_one(item: Any) -> bool:
            value = item.get(path) if type(item) is dict else None
            if type(value) is list:
                return expected in value
            return bool(value == expected)

        return matches_one

    def matches(item: Any) -> bool:
        found = values_at(item, path)
        if pattern:
            return any(matches_pattern(v, expected) for v in found)
        return any(v == expected for v in found)

    return matches


def type_matcher(path: str, type_codes: frozenset[str]) -> Matcher:
    if _simple(path):
        def matches_one(item: Any) -> bool:
            value = item.get(path) if type(item) is dict else None
            return type(value) is dict and value.get("resourceType") in type_codes

        return matches_one

    def matches(item: Any) -> bool:
        return any(isinstance(v, dict) and v.get("resourceType") in type_codes for v in values_at(item, path))

    return matches


def profile_matcher(path: str, profile: str, conforms: Conforms) -> Matcher:
    def matches(item: Any) -> bool:
        return any(conforms(v, profile) for v in values_at(item, path))

    return matches


def exists_matcher(path: str, present: bool) -> Matcher:
    def matches(item: Any) -> bool:
        return bool(values_at(item, path)) is present

    return matches


def all_of(matchers: list[Matcher]) -> Matcher:
    if len(matchers) == 1:
        return matchers[0]

    def matches(item: Any) -> bool:
        return all(m(item) for m in matchers)

    return matches


NO_KEY = object()  # an item whose discriminator value cannot be looked up (a list, an object): match one by one


def key_function(kind: str, path: str) -> Callable[[Any], Any] | None:
    """For one `value` or `type` discriminator on a simple property, the item's lookup key; None otherwise."""
    if not _simple(path):
        return None
    if kind == "type":
        def resource_type(item: Any) -> Any:
            value = item.get(path) if type(item) is dict else None
            return value.get("resourceType") if type(value) is dict else None

        return resource_type
    if kind == "value":
        def value_key(item: Any) -> Any:
            value = item.get(path) if type(item) is dict else None
            return NO_KEY if type(value) in (list, dict) else value

        return value_key
    return None
