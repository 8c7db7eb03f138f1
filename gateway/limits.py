"""Bounds on what a request may hold: JSON nesting, width and number size, and whole numbers in query strings.

Every JSON body the gateway reads goes through `load_json`, every whole number from a query string or header
through `whole_number`, so a request can make the gateway do no more work than its size allows and a hostile
shape is refused with a located error (HTTP 422, code `LIMIT_EXCEEDED`) instead of a RecursionError or a
ValueError from Python's integer-digit limit (HTTP 500).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qs

from gateway.errors import InputError, Issue, Location

LIMIT_EXCEEDED: Final = "LIMIT_EXCEEDED"
MAX_JSON_DEPTH: Final = 64  # a FHIR message bundle nests about 12 deep
MAX_JSON_MEMBERS: Final = 10_000  # keys of one object
MAX_JSON_ITEMS: Final = 100_000  # items of one array (a batch of 5,000 messages fits)
MAX_NUMBER_CHARS: Final = 40  # characters of one JSON integer, or of a whole number in a query string
MAX_DECIMAL_CHARS: Final = 1_000  # of one JSON number with a fraction or exponent (read as Decimal: linear)
MAX_JSON_BYTES: Final = 4 * 1024 * 1024  # a FHIR message is tens of kilobytes; a batch of 1,000 fits
# Commas (counted before parsing, at memory speed): Python's JSON parser holds the interpreter while it reads, so a
# body of millions of tiny values would stall every other request for as long, even in a worker thread.
MAX_JSON_COMMAS: Final = 250_000


def limit_issue(path: str, message: str, expected: str, value: str | None = None) -> Issue:
    return Issue(LIMIT_EXCEEDED, message, Location(path=path), value=value, expected=expected)


class _TooBig(Exception):
    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _number(convert: Callable[[str], Any], most: int) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if len(text) > most:
            raise _TooBig(
                limit_issue("body", f"a number of {len(text)} characters", f"at most {most}", text[:20] + "…")
            )
        value = convert(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise _TooBig(limit_issue("body", "a number out of range", "a finite number", text[:20]))
        return value

    return parse


def _constant(name: str) -> Any:
    raise _TooBig(
        Issue(
            "INVALID_JSON",
            f"{name} is not a JSON number",
            Location(path="body"),
            value=name,
            expected="a finite number",
        )
    )


def load_json(raw: bytes | str, *, parse_float: Callable[[str], Any] = float) -> Any:
    """`raw` as JSON, or an InputError: INVALID_JSON (located by line and column) or LIMIT_EXCEEDED (too deep,
    too wide, a number too long) or PAYLOAD_TOO_LARGE. Linear in the size of `raw`."""
    if len(raw) > MAX_JSON_BYTES:
        raise InputError(
            [
                Issue(
                    "PAYLOAD_TOO_LARGE",
                    "the JSON body is too large",
                    Location(path="body"),
                    value=f"{len(raw)} bytes",
                    expected=f"at most {MAX_JSON_BYTES} bytes",
                )
            ]
        )
    commas = raw.count(b",") if isinstance(raw, bytes) else raw.count(",")
    if commas > MAX_JSON_COMMAS:
        raise InputError([limit_issue("body", f"the JSON holds {commas} values or more", f"at most {MAX_JSON_COMMAS}")])
    try:
        value = json.loads(
            raw,
            parse_int=_number(int, MAX_NUMBER_CHARS),
            parse_float=_number(parse_float, MAX_DECIMAL_CHARS),
            parse_constant=_constant,
        )
    except _TooBig as exc:
        raise InputError([exc.issue]) from None
    except RecursionError:
        raise InputError([_too_deep("body")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Issue("INVALID_JSON", f"not UTF-8: {exc.reason}", Location(path="body"))]) from exc
    except json.JSONDecodeError as exc:
        issue = Issue("INVALID_JSON", exc.msg, Location(line=exc.lineno, column=str(exc.colno), path="body"))
        raise InputError([issue]) from exc
    except ValueError as exc:
        raise InputError([Issue("INVALID_JSON", f"unreadable JSON: {exc}", Location(path="body"))]) from exc
    check_shape(value)
    return value


def check_shape(value: Any) -> None:
    """LIMIT_EXCEEDED when `value` nests deeper than MAX_JSON_DEPTH or an object or array is too wide (no recursion:
    the walk keeps its own stack)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "body")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            children: Any = node.items()
            width, most, what = len(node), MAX_JSON_MEMBERS, "members"
        elif isinstance(node, list):
            children = enumerate(node)
            width, most, what = len(node), MAX_JSON_ITEMS, "items"
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise InputError([_too_deep(path)])
        if width > most:
            raise InputError([limit_issue(path, f"{width} {what} in one place", f"at most {most} {what}")])
        for key, child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, f"{path}.{key}" if depth < 8 else path))


def _too_deep(path: str) -> Issue:
    return limit_issue(path, "the JSON nests too deep", f"at most {MAX_JSON_DEPTH} levels of objects and arrays")


def whole_number(text: str) -> int | None:
    """A non-negative whole number written in ASCII digits, or None (also for one too long to be a sane value)."""
    if not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= MAX_NUMBER_CHARS else None


def form_fields(body: bytes, *, max_fields: int) -> dict[str, str]:
    """An application/x-www-form-urlencoded body: the first value of each field, at most `max_fields` fields."""
    try:
        fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=max_fields)
    except ValueError as exc:  # more fields than that
        issue = limit_issue("body", "the form has too many fields", f"at most {max_fields} fields")
        raise InputError([issue]) from exc
    return {name: values[0] for name, values in fields.items()}


def parse_int(raw: str | int | None, path: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter from `low` to `high` (`default` when absent), else a located 400."""
    if raw is None or raw == "":
        return default
    text = str(raw).strip()
    value = whole_number(text)
    if value is None or not low <= value <= high:
        raise InputError(
            [
                Issue(
                    code="INVALID_PARAMETER",
                    message=f"{path} is a whole number from {low} to {high}",
                    location=Location(path=path),
                    value=text[:40],
                    expected=f"{low} to {high}",
                )
            ]
        )
    return value
