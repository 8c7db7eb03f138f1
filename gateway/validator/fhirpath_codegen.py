"""The back end of the fast FHIRPath compiler: the AST of `fhirpath_fast` as the source of one Python function.

Each node becomes a few statements leaving its value in a local: a list (a FHIRPath collection) or, for Boolean
nodes, True / False / None (empty). `and`, `or`, `implies` short-circuit with `if`; criteria of `where`, `all` and
`exists` become nested functions; sub-expressions that do not depend on the focus are computed once at the top of
the function (when they read `%resource`) or folded into constants at compile time. Every name and literal taken
from an expression is emitted with `repr()` or as a constant of the namespace, never as code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.validator.fhirpath_runtime import RUNTIME, singleton_boolean

Node = tuple[Any, ...]
Fn = Callable[[Any, Any, Any], list[Any]]
Verdict = Callable[[Any, Any, Any], "bool | None"]
_LOGIC = frozenset({"and", "or", "xor", "implies"})
_HEADER = "def run(I, R=None, RR=None):\n"
_BOOLEAN_CALLS = frozenset({"exists", "empty", "not", "hasValue", "all"})


# --- code generation -----------------------------------------------------------------------------------------------
class Generator:
    """Turns one AST into `run(F, E)`: F the focus (a one-item collection), E the %variables."""

    def __init__(self, choice_of: Callable[[Node], frozenset[str] | None],
                 independent: Callable[[Node], bool], uses_env: Callable[[Node], bool]) -> None:
        self.choice_of = choice_of  # for a `nav` node: the type suffixes when it is a choice element, else None
        self.independent = independent
        self.uses_env = uses_env
        self.ns: dict[str, Any] = dict(RUNTIME)
        self.top: list[str] = []
        self.hoisted: dict[tuple[Node, bool], str] = {}
        self.pending: set[tuple[Node, bool]] = set()  # nodes being emitted as themselves (the root, a hoisted node)
        self.count = 0
        self.base = "    "  # the indentation of the function's top-level statements

    def function(self, tree: Node) -> Fn:
        """`run(I, R, RR)`: the collection of `tree` on the value I, with %resource R and %rootResource RR."""
        self.pending.add((tree, False))
        body: list[str] = []
        result = self._list(tree, "I", body, "    ")
        run: Fn = self._define(_HEADER + "".join(self.top) + "".join(body) + f"    return {result}\n")
        return run

    def verdict(self, tree: Node) -> Verdict:
        """`run(I, R, RR)` → True (holds, or empty), False (fails), None (not evaluable: an error, a result that is
        not one Boolean)."""
        body: list[str] = []
        self.base = "        "
        if self._is_boolean(tree):
            self.pending.add((tree, True))
            result = self.boolean(tree, "I", body, "        ")
            final = f"        return True if {result} is None else {result}\n"
        else:
            self.pending.add((tree, False))
            result = self._list(tree, "I", body, "        ")
            final = (f"        return True if not {result} else {result}[0] if len({result}) == 1 and "
                     f"type({result}[0]) is bool else None\n")
        run: Verdict = self._define(_HEADER + "    try:\n" + "".join(self.top) + "".join(body) + final
                                    + "    except Exception:\n        return None\n")
        return run

    def _define(self, source: str) -> Any:
        exec(compile(source, "<fhirpath>", "exec"), self.ns)  # noqa: S102 - our own generated code, literals repr()'d
        return self.ns["run"]

    def _var(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def _const(self, value: Any) -> str:
        name = f"K{len(self.ns)}"
        self.ns[name] = value
        return name

    def _shared(self, node: Node, boolean: bool = False) -> str | None:
        """For a focus-independent node: a folded constant, or a variable computed once at the top of the function
        (equal sub-expressions share it). None for any other node."""
        if node[0] in ("const", "env", "this") or (node, boolean) in self.pending or not self.independent(node):
            return None
        if not self.uses_env(node):
            try:
                value = Generator(self.choice_of, self.independent, self.uses_env).function(node)(None, None, None)
                return repr(singleton_boolean(value)) if boolean else self._const(value)
            except Exception:  # noqa: BLE001 - left to fail (or not) at run time
                return None
        key = (node, boolean)
        if key not in self.hoisted:
            self.pending.add(key)
            statements: list[str] = []  # nested shared nodes go to the top first
            try:
                emit = self.boolean if boolean else self._list
                self.hoisted[key] = emit(node, "I", statements, self.base)
            finally:
                self.pending.discard(key)
            self.top.extend(statements)
        return self.hoisted[key]

    def _this_name(self, node: Node) -> str | None:
        if node[0] == "nav" and node[1] == ("this",) and self.choice_of(node) is None:
            return node[2]  # type: ignore[no-any-return]
        return None

    # --- collections ---------------------------------------------------------------------------------------------
    def collection(self, node: Node, item: str, out: list[str], ind: str) -> str:
        """Statements into `out` leaving the collection of `node` (focus: the single value `item`); returns the
        expression naming it."""
        shared = self._shared(node)
        return shared if shared is not None else self._list(node, item, out, ind)

    def _list(self, node: Node, item: str, out: list[str], ind: str) -> str:
        kind = node[0]
        if kind == "const":
            return self._const([node[1]])
        v = self._var()
        if kind == "this":
            out.append(f"{ind}{v} = [{item}]\n")
        elif kind == "env":
            name = "R" if node[1] == "resource" else "RR"
            out.append(f"{ind}{v} = [] if {name} is None else [{name}]\n")
        elif kind == "nav" and len(steps := self._chain(node)) > 1:
            self._path(steps, item, out, ind, v)
        elif kind == "nav":
            suffixes = self.choice_of(node)
            extra = "" if suffixes is None else f", {self._const(suffixes)}"
            if node[1] == ("this",):
                out.append(f"{ind}{v} = {'_get' if suffixes is None else '_getc'}({item}, {node[2]!r}{extra})\n")
            else:
                source = self.collection(node[1], item, out, ind)
                out.append(f"{ind}{v} = {'_nav' if suffixes is None else '_navc'}({source}, {node[2]!r}{extra})\n")
        elif kind == "op" and node[1] in ("|", "+", "-", "&"):
            a, b = self.collection(node[2], item, out, ind), self.collection(node[3], item, out, ind)
            call = {"|": f"_union({a}, {b})", "&": f"[_text({a}) + _text({b})]"}.get(
                node[1], f"_arith({a}, {b}, {node[1]!r})")
            out.append(f"{ind}{v} = {call}\n")
        elif kind == "call" and node[2] not in _BOOLEAN_CALLS:
            self._call(node, item, out, ind, v)
        else:
            b = self.boolean(node, item, out, ind)
            out.append(f"{ind}{v} = [] if {b} is None else [{b}]\n")
        return v

    def _chain(self, node: Node) -> tuple[tuple[str, frozenset[str] | None], ...]:
        """`a.b.c` on the focus: its steps (name, choice suffixes), navigated in one call; () for anything else."""
        steps = []
        while node[0] == "nav":
            steps.append((node[2], self.choice_of(node)))
            if node[1] == ("this",):
                return tuple(reversed(steps))
            node = node[1]
        return ()

    def _path(self, steps: tuple[tuple[str, frozenset[str] | None], ...], item: str, out: list[str], ind: str,
              v: str) -> None:
        """`_path`, with its common case inline when no step is a choice: each object on the way a single dict."""
        general = f"_path({item}, {self._const(steps)})"
        if any(suffixes is not None for _, suffixes in steps):
            out.append(f"{ind}{v} = {general}\n")
            return
        x = self._var()
        out.append(f"{ind}{x} = {item}.get({steps[0][0]!r}) if type({item}) is dict else None\n")
        depth = ind
        for name, _ in steps[1:]:
            y = self._var()
            out.append(f"{depth}if type({x}) is dict:\n{depth}    {y} = {x}.get({name!r})\n")
            depth += "    "
            x = y
        out.append(f"{depth}{v} = [] if {x} is None else [w for w in {x} if w is not None] if type({x}) is list "
                   f"else [{x}]\n")
        while depth != ind:
            depth = depth[:-4]
            out.append(f"{depth}else:\n{depth}    {v} = {general}\n")

    def _call(self, node: Node, item: str, out: list[str], ind: str, v: str) -> None:
        name, args = node[2], node[3]
        source = self.collection(node[1], item, out, ind)
        if name == "is":
            out.append(f"{ind}{v} = _is({source}, {args[0][2]!r})\n")
        elif name == "trace":
            out.append(f"{ind}{v} = {source}\n")
        elif name == "count":
            out.append(f"{ind}{v} = [len({source})]\n")
        elif name == "first":
            out.append(f"{ind}{v} = {source}[:1]\n")
        elif name == "where":
            out.append(f"{ind}{v} = []\n")
            x, body, result = self._criteria(args[0], ind + "    ")
            out.append(f"{ind}for {x} in {source}:\n{body}")
            out.append(f"{ind}    if {result} is True:\n{ind}        {v}.append({x})\n")
        else:
            values = ", ".join(self.collection(a, item, out, ind) for a in args)
            out.append(f"{ind}{v} = _string({name!r}, {source}{', ' if values else ''}{values})\n")

    def _criteria(self, node: Node, ind: str) -> tuple[str, str, str]:
        """(loop variable, statements, result) of a criteria evaluated on each item in a loop body."""
        x = self._var()
        body: list[str] = []
        result = self.boolean(node, x, body, ind)
        return x, "".join(body), result

    # --- Booleans ------------------------------------------------------------------------------------------------
    def boolean(self, node: Node, item: str, out: list[str], ind: str) -> str:
        """Statements into `out` leaving True / False / None (empty) for `node`; returns its expression."""
        kind = node[0]
        if kind == "const" and type(node[1]) is bool:
            return repr(node[1])
        shared = self._shared(node, boolean=True)
        if shared is not None:
            return shared
        if kind not in ("op", "call"):
            return self._singleton(node, item, out, ind)
        v = self._var()
        operator = node[1]
        if kind == "op" and operator in _LOGIC:
            self._logic(node, item, out, ind, v)
        elif kind == "op" and operator in ("=", "!="):
            self._equality(node, item, out, ind, v)
        elif kind == "op" and operator in ("<", "<=", ">", ">="):
            a, b = self.collection(node[2], item, out, ind), self.collection(node[3], item, out, ind)
            out.append(f"{ind}{v} = _cmp({a}, {b}, {operator!r})\n")
        elif kind == "op" and operator in ("in", "contains"):
            a, b = self.collection(node[2], item, out, ind), self.collection(node[3], item, out, ind)
            out.append(f"{ind}{v} = _in({a}, {b})\n" if operator == "in" else f"{ind}{v} = _in({b}, {a})\n")
        elif kind == "call" and node[2] in _BOOLEAN_CALLS:
            self._boolean_call(node, item, out, ind, v)
        else:
            return self._singleton(node, item, out, ind)
        return v

    def _singleton(self, node: Node, item: str, out: list[str], ind: str) -> str:
        v = self._var()
        out.append(f"{ind}{v} = _b({self.collection(node, item, out, ind)})\n")
        return v

    def _is_boolean(self, node: Node) -> bool:
        """Whether `node` always gives one Boolean or empty (so `=` can compare the values directly)."""
        return (node[0] == "const" and type(node[1]) is bool or node[0] == "op" and node[1] in (
            _LOGIC | {"=", "!=", "<", "<=", ">", ">=", "in", "contains"}) or node[0] == "call" and node[2] in (
            _BOOLEAN_CALLS))

    def _equality(self, node: Node, item: str, out: list[str], ind: str, v: str) -> None:
        negate = node[1] == "!="
        for one, other in ((node[2], node[3]), (node[3], node[2])):
            name = self._this_name(one)
            if name is not None and other[0] == "const" and isinstance(other[1], str):
                out.append(f"{ind}{v} = _eq_item({item}, {name!r}, {other[1]!r})\n")
                break
        else:
            if self._is_boolean(node[2]) and self._is_boolean(node[3]):
                a, b = self.boolean(node[2], item, out, ind), self.boolean(node[3], item, out, ind)
                out.append(f"{ind}{v} = None if {a} is None or {b} is None else {a} is {b}\n")
            else:
                a, b = self.collection(node[2], item, out, ind), self.collection(node[3], item, out, ind)
                out.append(f"{ind}{v} = _eq({a}, {b})\n")
        if negate:
            out.append(f"{ind}{v} = None if {v} is None else not {v}\n")

    def _boolean_call(self, node: Node, item: str, out: list[str], ind: str, v: str) -> None:
        name, source_node, args = node[2], node[1], node[3]
        if name == "not":
            b = self.boolean(source_node, item, out, ind)
            out.append(f"{ind}{v} = None if {b} is None else not {b}\n")
            return
        member = self._this_name(source_node) if not args else None
        if member is not None and name in ("exists", "empty", "hasValue"):
            if name == "hasValue":
                out.append(f"{ind}{v} = _has_value({item}, {member!r})\n")
                return
            # _has, inline: no call for the common single value.
            out.append(f"{ind}{v} = {item}.get({member!r}) if type({item}) is dict else None\n")
            present = f"{v} is not None and (type({v}) is not list or _present({v}))"
            out.append(f"{ind}{v} = {present}\n" if name == "exists" else f"{ind}{v} = not ({present})\n")
            return
        source = self.collection(source_node, item, out, ind)
        if args:  # exists(criteria), all(criteria)
            found, missed = ("True", "False") if name == "exists" else ("False", "True")
            x, body, result = self._criteria(args[0], ind + "    ")
            check = f"{result} is True" if name == "exists" else f"{result} is not True"
            out.append(f"{ind}{v} = {missed}\n{ind}for {x} in {source}:\n{body}{ind}    if {check}:\n"
                       f"{ind}        {v} = {found}\n{ind}        break\n")
        elif name == "exists":
            out.append(f"{ind}{v} = bool({source})\n")
        elif name == "empty":
            out.append(f"{ind}{v} = not {source}\n")
        else:
            out.append(f"{ind}{v} = _hasv({source})\n")

    def _logic(self, node: Node, item: str, out: list[str], ind: str, v: str) -> None:
        operator = node[1]
        a = self.boolean(node[2], item, out, ind)
        if operator == "xor":
            b = self.boolean(node[3], item, out, ind)
            out.append(f"{ind}{v} = None if {a} is None or {b} is None else {a} != {b}\n")
            return
        settled, value = {"and": ("False", "False"), "or": ("True", "True"), "implies": ("False", "True")}[operator]
        inner: list[str] = []
        b = self.boolean(node[3], item, inner, ind + "    ")
        rest = {
            "and": f"False if {b} is False else True if {a} is True and {b} is True else None",
            "or": f"True if {b} is True else False if {a} is False and {b} is False else None",
            "implies": f"True if {b} is True else False if {a} is True and {b} is False else None",
        }[operator]
        out.append(f"{ind}if {a} is {settled}:\n{ind}    {v} = {value}\n{ind}else:\n")
        out.extend(inner)
        out.append(f"{ind}    {v} = {rest}\n")
