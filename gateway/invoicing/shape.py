"""Safe reading of JSON of unknown shape: a wrong type anywhere reads as absent, never as an exception."""

from __future__ import annotations

from typing import Any


def obj(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def dicts(value: object) -> list[dict[str, Any]]:
    """The objects of `value` if it is a JSON array (other members dropped), else none."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def dig(value: object, *keys: str) -> Any:
    """value[k1][k2]…, or None as soon as a step is not an object or lacks the key."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
