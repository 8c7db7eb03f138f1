"""A compiler for the FHIRPath subset invariants mostly use, into plain Python closures (no interpreter per call).

Supported: member paths, `$this`, string/number/boolean literals, `=`, `!=`, `<`, `<=`, `>`, `>=`, `and`, `or`,
`xor`, `implies`, `not()`, `exists()`, `exists(criteria)`, `empty()`, `count()`, `hasValue()`, `where(criteria)`,
`all(criteria)`, `first()`, `matches(regex)`, `startsWith(text)`, `length()`. `compile_fast` returns None for
anything else, and the caller falls back to fhirpathpy; tests check both agree on the invariants we ship.
Collections are Python lists; FHIRPath's three-valued logic uses [] for empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Fn = Callable[[list[Any]], list[Any]]

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|[=<>().,])"
                    r"|(?P<id>\$this|[A-Za-z_][A-Za-z0-9_]*))")
_BINARY = {"implies": 1, "or": 2, "xor": 2, "and": 3, "=": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4}
_PRIMITIVE = (str, bool, int, float, Decimal)


class Unsupported(Exception):
    """The expression uses FHIRPath this compiler does not handle."""


def _tokens(expression: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise Unsupported(expression[position:])
        kind = match.lastgroup
        assert kind is not None  # noqa: S101 - one group always matches
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def _bool(collection: list[Any]) -> bool | None:
    """FHIRPath singleton evaluation of a collection as a Boolean (None: empty)."""
    if not collection:
        return None
    if len(collection) == 1 and isinstance(collection[0], bool):
        return collection[0]
    return True


def _constant(value: Any) -> Fn:
    def constant(focus: list[Any]) -> list[Any]:
        return [value]

    return constant


def _this(focus: list[Any]) -> list[Any]:
    return focus


def _same(a: Any, b: Any) -> bool:
    """FHIRPath equality of two items (true is not 1)."""
    if type(a) is bool or type(b) is bool:
        return a is b
    return bool(a == b)


def _navigate(name: str) -> Fn:
    def step(focus: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in focus:
            if type(item) is dict:
                value = item.get(name)
                if value is None:
                    continue
                if type(value) is list:
                    out.extend(v for v in value if v is not None)
                else:
                    out.append(value)
        return out

    return step


class _Parser:
    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise Unsupported(f"expected {value!r}")
        self.position += 1
        return token

    def expression(self, min_precedence: int = 0) -> Fn:
        left = self.term()
        while True:
            token = self.peek()
            if token is None or token[1] not in _BINARY or _BINARY[token[1]] < min_precedence:
                return left
            operator = self.take()[1]
            right = self.expression(_BINARY[operator] + 1)
            left = _binary(operator, left, right)

    def term(self) -> Fn:
        kind, value = self.take()
        base: Fn
        if kind == "num":
            base = _constant(Decimal(value) if "." in value else int(value))
        elif kind == "str":
            base = _constant(value[1:-1].replace("\\'", "'"))
        elif value == "(":
            base = self.expression()
            self.take(")")
        elif value in ("true", "false"):
            base = _constant(value == "true")
        elif value == "$this":
            base = _this
        elif kind == "id":
            base = self.invocation(value, _this)
        else:
            raise Unsupported(value)
        while self.peek() is not None and self.peek()[1] == ".":  # type: ignore[index]
            self.take(".")
            base = self.invocation(self.take()[1], base)
        return base

    def invocation(self, name: str, source: Fn) -> Fn:
        token = self.peek()
        if token is None or token[1] != "(":
            step = _navigate(name)
            return lambda focus: step(source(focus))
        self.take("(")
        args: list[Fn] = []
        while self.peek() is not None and self.peek()[1] != ")":  # type: ignore[index]
            args.append(self.expression())
            if self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
                self.take(",")
        self.take(")")
        return _function(name, source, args)


def _function(name: str, source: Fn, args: list[Fn]) -> Fn:
    if name == "exists" and args:
        criteria = args[0]
        return lambda focus: [any(_bool(criteria([item])) for item in source(focus))]
    if args and name not in ("where", "all", "matches", "startsWith"):
        raise Unsupported(name)
    if name == "exists":
        return lambda focus: [bool(source(focus))]
    if name == "empty":
        return lambda focus: [not source(focus)]
    if name == "not":
        def negate(focus: list[Any]) -> list[Any]:
            value = _bool(source(focus))
            return [] if value is None else [not value]
        return negate
    if name == "count":
        return lambda focus: [len(source(focus))]
    if name == "first":
        return lambda focus: source(focus)[:1]
    if name == "hasValue":
        return lambda focus: [len(v := source(focus)) == 1 and isinstance(v[0], _PRIMITIVE)]
    if name == "length":
        return lambda focus: [len(v[0])] if len(v := source(focus)) == 1 and isinstance(v[0], str) else []
    if name == "where":
        criteria = args[0]
        return lambda focus: [item for item in source(focus) if _bool(criteria([item])) is True]
    if name == "all":
        criteria = args[0]
        return lambda focus: [all(_bool(criteria([item])) is True for item in source(focus))]
    if name in ("matches", "startsWith"):
        return _string_function(name, source, args[0])
    raise Unsupported(name)


def _string_function(name: str, source: Fn, argument: Fn) -> Fn:
    def apply(focus: list[Any]) -> list[Any]:
        values = source(focus)
        pattern = argument(focus)
        if len(values) != 1 or len(pattern) != 1 or not isinstance(values[0], str):
            return []
        if name == "matches":
            return [re.search(pattern[0], values[0]) is not None]
        return [values[0].startswith(pattern[0])]

    return apply


def _compare(operator: str, left: list[Any], right: list[Any]) -> list[Any]:
    if not left or not right:
        return []
    if operator in ("=", "!="):
        equal = len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
        return [equal if operator == "=" else not equal]
    if len(left) != 1 or len(right) != 1:
        raise Unsupported("comparison of collections")
    a, b = left[0], right[0]
    try:
        result = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]
    except TypeError:
        return []
    return [result]


def _binary(operator: str, left: Fn, right: Fn) -> Fn:
    if operator in ("and", "or", "xor", "implies"):
        def logic(focus: list[Any]) -> list[Any]:
            a = _bool(left(focus))
            if operator == "and" and a is False or operator == "or" and a is True:
                return [a]
            if operator == "implies" and a is False:
                return [True]
            b = _bool(right(focus))
            if operator == "and":
                return [False] if b is False else [] if a is None or b is None else [True]
            if operator == "or":
                return [True] if b is True else [] if a is None or b is None else [False]
            if operator == "implies":
                return [True] if b is True else [] if a is None or b is None else [False]
            return [] if a is None or b is None else [a != b]
        return logic
    return lambda focus: _compare(operator, left(focus), right(focus))


def compile_fast(expression: str) -> Callable[[Any], list[Any]] | None:
    """`expression` as a function of one JSON value, or None when it uses FHIRPath outside the subset."""
    try:
        parser = _Parser(expression)
        function = parser.expression()
        if parser.peek() is not None:
            return None
    except Unsupported:
        return None
    return lambda value: function([value])
