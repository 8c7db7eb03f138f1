"""A compiler for the FHIRPath that invariants use, into plain Python closures (no interpreter per call).

Supported: member paths (choice elements `value` → `valueString`…), `$this`, `%resource`, `%rootResource`,
`%ucum`, string/number/boolean literals, `implies`, `or`, `xor`, `and`, `in`, `contains`, `=`, `!=`, `<`, `<=`,
`>`, `>=`, `|`, `+`, `-`, `&`, and the functions `exists([criteria])`, `empty()`, `not()`, `count()`, `first()`,
`hasValue()`, `where()`, `all()`, `matches()`, `startsWith()`, `contains()`, `length()`, `substring()`,
`toString()`, `is(Type)` (resource types), `trace()` and `htmlChecks()`. `compile_fast` returns None for anything
else and the caller falls back to fhirpathpy; tests check both agree on the invariants we ship.

Two things make evaluation cheap. Each expression carries a guard: the names of the focus's elements whose absence
alone makes it true (or empty, which does not contradict an invariant) — `period.exists() implies period >= 0` holds
whenever `period` is absent, so most invariants are settled by a set comparison. And sub-expressions that do not
depend on the focus are computed once per evaluation (or folded at compile time when they are constants).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.validator.fhirpath_codegen import Generator, Node, Verdict

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|[=<>().,|+\-&])"
                    r"|(?P<env>%[A-Za-z][A-Za-z0-9_]*)|(?P<id>\$this|[A-Za-z_][A-Za-z0-9_]*|`[^`]+`))")
# Lower binds looser (FHIRPath operator precedence).
_BINARY = {"implies": 1, "or": 2, "xor": 2, "and": 3, "in": 4, "contains": 4, "=": 5, "!=": 5, "<": 6, "<=": 6,
           ">": 6, ">=": 6, "|": 7, "+": 9, "-": 9, "&": 9}
_ENV_CONSTANTS = {"%ucum": "http://unitsofmeasure.org"}
_ENV_VARIABLES = {"%resource": "resource", "%rootResource": "rootResource"}


class Unsupported(Exception):
    """The expression uses FHIRPath this compiler does not handle."""


def _default_choices() -> dict[str, frozenset[str]]:
    """Choice element name → the type suffixes its JSON names may carry, over all of R4 (fhirpathpy's R4 model)."""
    from fhirpathpy.models import models

    out: dict[str, set[str]] = {}
    for path, types in models["r4"]["choiceTypePaths"].items():
        out.setdefault(path.rsplit(".", 1)[1], set()).update(types)
    return {name: frozenset(types) for name, types in out.items()}


_CHOICES = _default_choices()


# --- parsing into a small AST ---------------------------------------------------------------------------------------
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
        text = match.group(kind)
        out.append((kind, text[1:-1] if text[:1] == "`" else text))
        position = match.end()
    return out


class _Parser:
    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens) or (value is not None and self.tokens[self.position][1] != value):
            raise Unsupported(f"expected {value!r}")
        self.position += 1
        return self.tokens[self.position - 1]

    def expression(self, min_precedence: int = 0) -> Node:
        left = self.term()
        while (operator := self.peek()) in _BINARY and _BINARY[operator] >= min_precedence:
            self.take()
            left = ("op", operator, left, self.expression(_BINARY[operator] + 1))
        return left

    def term(self) -> Node:
        kind, value = self.take()
        node: Node
        if kind == "num":
            node = ("const", Decimal(value) if "." in value else int(value))
        elif kind == "str":
            node = ("const", re.sub(r"\\(.)", r"\1", value[1:-1]))
        elif value == "(":
            node = self.expression()
            self.take(")")
        elif kind == "env":
            if value not in _ENV_CONSTANTS and value not in _ENV_VARIABLES:
                raise Unsupported(value)
            node = ("const", _ENV_CONSTANTS[value]) if value in _ENV_CONSTANTS else ("env", _ENV_VARIABLES[value])
        elif value in ("true", "false"):
            node = ("const", value == "true")
        elif value == "$this":
            node = ("this",)
        elif kind == "id":
            node = self.invocation(value, ("this",))
        else:
            raise Unsupported(value)
        while self.peek() == ".":
            self.take(".")
            node = self.invocation(self.take()[1], node)
        return node

    def invocation(self, name: str, source: Node) -> Node:
        if self.peek() != "(":
            return ("nav", source, name)
        self.take("(")
        args: list[Node] = []
        while self.peek() not in (")", None):
            args.append(self.expression())
            if self.peek() == ",":
                self.take(",")
        self.take(")")
        return ("call", source, name, tuple(args))


# --- analysis: guards and focus independence ------------------------------------------------------------------------
Condition = str | tuple[str, str]  # an absent element, or (element, literal): the element is another single string
Conditions = frozenset[Condition]
_EMPTY: Conditions = frozenset()
_PROPAGATE = frozenset({"first", "where", "matches", "startsWith", "contains", "length", "toString", "substring",
                        "is", "trace", "htmlChecks"})


def _this_name(node: Node, choices: frozenset[str] | Any) -> str | None:
    """`name` when node is `$this.name` for an element that is not a choice."""
    if node[0] == "nav" and node[1] == ("this",) and node[2] not in choices:
        return node[2]  # type: ignore[no-any-return]
    return None


def _sets(node: Node, choices: frozenset[str]) -> tuple[Conditions, Conditions, Conditions]:
    """(E, T, F): conditions on the focus each of which makes `node` empty; true or empty; false or empty."""
    kind = node[0]
    if kind == "nav":
        if node[1] == ("this",):
            e = _EMPTY if node[2] in choices else frozenset({node[2]})
        else:
            e = _sets(node[1], choices)[0]
        return e, e, e
    if kind == "call":
        e, t, f = _sets(node[1], choices)
        name = node[2]
        if name in ("exists", "hasValue"):
            return _EMPTY, _EMPTY, e
        if name in ("empty", "all"):
            return _EMPTY, e, _EMPTY
        if name == "not":
            return e, f, t
        if name in _PROPAGATE:
            return e, e, e
        return _EMPTY, _EMPTY, _EMPTY
    if kind == "op":
        a, b = _sets(node[2], choices), _sets(node[3], choices)
        operator = node[1]
        if operator == "and":
            return a[0] & b[0], a[1] & b[1], a[2] | b[2]
        if operator == "or":
            return a[0] & b[0], a[1] | b[1], a[2] & b[2]
        if operator == "implies":
            return a[0] & b[0], a[2] | b[1], a[1] & b[2]
        if operator == "&":
            return _EMPTY, _EMPTY, _EMPTY
        if operator == "|":
            e = a[0] & b[0]
        elif operator == "in":
            e = a[0]
        elif operator == "contains":
            e = b[0]
        else:  # xor, comparisons, arithmetic: empty when either side is
            e = a[0] | b[0]
        differs = _differs(node, choices)
        if differs is not None and operator == "=":
            return e, e, e | {differs}
        if differs is not None and operator == "!=":
            return e, e | {differs}, e
        return e, e, e
    return _EMPTY, _EMPTY, _EMPTY


def _differs(node: Node, choices: frozenset[str]) -> tuple[str, str] | None:
    """(name, literal) for `name = 'literal'` (either way round)."""
    for one, other in ((node[2], node[3]), (node[3], node[2])):
        name = _this_name(one, choices)
        if name is not None and other[0] == "const" and isinstance(other[1], str):
            return name, other[1]
    return None


def _independent(node: Node) -> bool:
    """Whether `node` gives the same result whatever the focus (it reads only constants and %variables)."""
    kind = node[0]
    if kind in ("const", "env"):
        return True
    if kind == "this":
        return False
    if kind == "nav":
        return _independent(node[1])
    if kind == "call":
        return _independent(node[1]) and all(_independent(a) for a in node[3])
    return _independent(node[2]) and _independent(node[3])


def _uses_env(node: Node) -> bool:
    kind = node[0]
    if kind == "env":
        return True
    if kind in ("const", "this"):
        return False
    if kind == "nav":
        return _uses_env(node[1])
    if kind == "call":
        return _uses_env(node[1]) or any(_uses_env(a) for a in node[3])
    return _uses_env(node[2]) or _uses_env(node[3])


# --- checks before code generation ------------------------------------------------------------------------------
_FUNCTIONS = {  # name → allowed argument counts
    "exists": (0, 1), "where": (1,), "all": (1,), "empty": (0,), "not": (0,), "count": (0,), "first": (0,),
    "hasValue": (0,), "length": (0,), "toString": (0,), "htmlChecks": (0,), "matches": (1,), "startsWith": (1,),
    "contains": (1,), "substring": (1, 2), "is": (1,), "trace": (1, 2),
}


def _check(node: Node) -> None:
    """Raise Unsupported for functions outside the subset (or with the wrong arguments)."""
    kind = node[0]
    if kind == "nav":
        _check(node[1])
    elif kind == "call":
        name, args = node[2], node[3]
        if len(args) not in _FUNCTIONS.get(name, ()):
            raise Unsupported(f"{name}() with {len(args)} arguments")
        if name == "is" and (args[0][0] != "nav" or args[0][1] != ("this",)):
            raise Unsupported("is() needs a type name")
        _check(node[1])
        if name not in ("is", "trace"):
            for arg in args:
                _check(arg)
    elif kind == "op":
        _check(node[2])
        _check(node[3])


# --- the compiled expression -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FastExpression:
    """A compiled invariant: `evaluate(value, resource, root)` → True (holds or empty), False (fails), None (not
    evaluable); `guard` and `differs` as explained above."""

    expression: str
    guard: frozenset[str]
    differs: tuple[tuple[str, str], ...]  # (name, literal): holds when the focus's `name` is another single string
    evaluate: Verdict
    tree: Node
    choice_of: Callable[[Node], frozenset[str] | None]

    def collection(self, value: Any, resource: Any = None, root: Any = None) -> list[Any]:
        """The FHIRPath result itself (compiled on each call: validation needs only `evaluate`)."""
        return Generator(self.choice_of, _independent, _uses_env).function(self.tree)(value, resource, root)


def compile_fast(expression: str, focus_choices: frozenset[str] | None = None) -> FastExpression | None:
    """`expression` compiled, or None when it uses FHIRPath outside the subset. `focus_choices` names the choice
    elements of the focus's type (None: any name that is a choice element somewhere in R4)."""
    try:
        parser = _Parser(expression)
        tree = parser.expression()
        if parser.peek() is not None:
            return None
        _check(tree)
    except Unsupported:
        return None
    choices = focus_choices if focus_choices is not None else frozenset(_CHOICES)

    def choice_of(node: Node) -> frozenset[str] | None:
        first_step = node[1] == ("this",) and focus_choices is not None
        if node[2] in (focus_choices if first_step else _CHOICES):  # type: ignore[operator]
            return _CHOICES.get(node[2], frozenset())
        return None

    holds = _sets(tree, choices)[1]
    absent = frozenset(c for c in holds if isinstance(c, str))
    differs = tuple(sorted(c for c in holds if isinstance(c, tuple)))
    evaluate = Generator(choice_of, _independent, _uses_env).verdict(tree)
    return FastExpression(expression, absent, differs, evaluate, tree, choice_of)
