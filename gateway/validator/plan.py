"""Walk plans: each compiled node and child specialised once into a small generated function (`Node.walk`,
`Child.visit`, `Child.item`), so that the hot loop tests only what its element can fail.

A plan is the walker's generic code (`walker.Walker`) with every decision that depends only on the profile taken
at compile time: whether a child repeats, is sliced, has a binding, a hook, invariants, a fixed or pattern value.
Plans handle the valid case only; whenever a value is not what the fast path expects (wrong JSON type, empty, too
many, a fixed or pattern value to compare), they hand the value to the generic method, which reports exactly what
it always did. Plans hold nothing of any input: their namespaces are profile data and the walker's methods, built
once per node or child and never written to during a walk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.validator.checks import check_code, check_coded, report_invariants
from gateway.validator.context import Context, Ref
from gateway.validator.model import COMPLEX, PRIMITIVE, Child, Node
from gateway.validator.primitives import MAX_STRING, TEXT_ANY, TEXT_NO_SPACE

if TYPE_CHECKING:
    from gateway.validator.walker import Walker

NodeWalk = Callable[[dict[str, Any], str, Context, bool], None]
Visit = Callable[[Any, str, Context], None]  # (value, path of its parent, ctx)
ItemVisit = Callable[[Any, str, Context], None]  # (one value, its own path, ctx)


def _define(source: str, namespace: dict[str, Any], name: str) -> Any:
    exec(compile(source, f"<plan {name}>", "exec"), namespace)  # noqa: S102 - generated here from profile data
    return namespace[name]


def node_walk(walker: Walker, node: Node) -> NodeWalk:
    """`walk(obj, path, ctx, root)`: Walker.object for this node (its tail checks only where the node has any)."""
    for child in node.children.values():
        if not child.plain and child.visit is None:
            child.visit = child_visit(walker, child)
    ns: dict[str, Any] = {
        "CH": node.children, "CH_GET": node.children.get,
        "UNKNOWN": walker.unknown, "MISSING": walker.missing, "CHOICES": walker.choices,
        "REPORT_INV": report_invariants, "NODE": node, "TEXT_ANY": TEXT_ANY, "TEXT_NO_SPACE": TEXT_NO_SPACE,
        "MAX_STRING": MAX_STRING, "PLAIN_PROBLEM": walker.plain_problem,
        "REQUIRED": node.required_names, "REQUIRED_LISTS": node.required_lists, "CHOICE_NAMES": node.choice_names,
    }
    lines = [
        "def walk(obj, path, ctx, root=False):",
        "    for key, value in obj.items():",
        "        child = CH_GET(key)",
        "        if child is None:",
        "            UNKNOWN(CH, key, value, path, ctx, root)",
        "            continue",
        "        if child.plain:",
        # Most values are single primitives with nothing but their format to check (= primitives.plainly_valid).
        "            text = child.text",
        "            if text and type(value) is str and value.isprintable() and value and (",
        "                    text == TEXT_ANY or (' ' not in value if text == TEXT_NO_SPACE else",
        "                                         value[0] != ' ' and value[-1] != ' ' and '  ' not in value)",
        "            ) and len(value) <= MAX_STRING:",
        "                continue",
        "            if not text and type(value) is not list and child.check(value) is None:",
        "                continue",
        "            PLAIN_PROBLEM(child, key, value, path, ctx)",
        "            continue",
        "        child.visit(value, path, ctx)",
    ]
    if node.required:
        keys = "obj.keys() >= REQUIRED"
        if node.required_lists:
            keys += " and all(obj[n] != [] for n in REQUIRED_LISTS)"
        lines += [f"    if not ({keys}):", "        MISSING(NODE, obj, path, ctx)"]
    if node.choices:
        lines += ["    if len(obj.keys() & CHOICE_NAMES) > 1:", "        CHOICES(NODE, obj, path, ctx)"]
    if node.root is not None:
        ns["E"], ns["INVARIANTS"] = node.root, node.root.check
        lines += _invariant_lines("obj", "    ")
    walk: NodeWalk = _define("\n".join(lines) + "\n", ns, "walk")
    return walk


def _namespace(walker: Walker, child: Child) -> dict[str, Any]:
    element = child.element
    hook = walker.hook_of(child)
    return {
        "CHILD": child, "E": element, "N": child.node, "PLAN": walker.plan_node, "TYPE": child.type_code,
        "DOT_KEY": "." + child.name, "GENERIC": walker.child_generic, "GENERIC_VALUE": walker.value_generic,
        "HOOK": hook[0] if hook else None, "SYSTEMS": hook[1] if hook else None, "REPORT_INV": report_invariants,
        "INVARIANTS": element.check,
        "CHECK_CODE": check_code, "CHECK_CODED": check_coded, "Ref": Ref, "EXT": walker.extension,
        "FORMAT": child.check, "MAX": element.max, "MAX_STRING": MAX_STRING,
        "SLICED": walker.sliced, "FIXED": element.fixed if element.fixed is not None else element.pattern,
    }


def _hook_lines(walker: Walker, child: Child, item: str, path: str, ind: str) -> list[str]:
    hook = walker.hook_of(child)
    if hook is None:
        return []
    if hook[1] is None:
        return [f"{ind}HOOK({item}, {path}, E, ctx)"]
    return [f"{ind}system = {item}.get('system')",
            f"{ind}if type(system) is str and system in SYSTEMS:",
            f"{ind}    HOOK({item}, {path}, E, ctx)"]


def _invariant_lines(value: str, ind: str) -> list[str]:
    """checks.check_invariants on E, inline: the element's combined check, and its issues when one fails."""
    return [f"{ind}frame = ctx.frame",
            f"{ind}bad = INVARIANTS({value}, None, None) if frame is None else "
            f"INVARIANTS({value}, frame.resource, frame.root)",
            f"{ind}if bad:",
            f"{ind}    REPORT_INV(E, bad, path, ctx)"]


def child_visit(walker: Walker, child: Child) -> Visit:
    """`visit(value, path, ctx)`: one property of an object (Walker.child_generic), `path` its parent's."""
    element = child.element
    ns = _namespace(walker, child)
    if element.max == 0:
        lines = ["def visit(value, path, ctx):", "    GENERIC(CHILD, value, path, ctx)"]
    elif element.repeats:
        too_many = "" if element.max is None else " or len(value) > MAX"
        lines = ["def visit(value, path, ctx):",
                 f"    if type(value) is not list or not value{too_many}:",
                 "        GENERIC(CHILD, value, path, ctx)",
                 "        return",
                 "    p = path + DOT_KEY"]
        if element.slicing is not None:
            lines.append("    SLICED(CHILD, value, p, ctx)")
        elif walker.is_bare(child):
            lines += ["    walk = N.walk or PLAN(N)",
                      "    for i, item in enumerate(value):",
                      "        if type(item) is dict and item:",
                      "            ip = f'{p}[{i}]'",
                      "            walk(item, ip, ctx)",
                      *_hook_lines(walker, child, "item", "ip", "            "),
                      "        else:",
                      "            GENERIC_VALUE(CHILD, item, f'{p}[{i}]', ctx)"]
        else:
            lines += ["    for i, item in enumerate(value):",
                      *_item_body(walker, child, "        ", "continue", "f'{p}[{i}]'")]
    elif walker.is_bare(child):
        lines = ["def visit(value, path, ctx):",
                 "    if type(value) is dict and value:",
                 "        p = path + DOT_KEY",
                 "        (N.walk or PLAN(N))(value, p, ctx)",
                 *_hook_lines(walker, child, "value", "p", "        "),
                 "    else:",
                 "        GENERIC(CHILD, value, path, ctx)"]
    else:
        lines = ["def visit(value, path, ctx):",
                 "    if type(value) is list:",
                 "        GENERIC(CHILD, value, path, ctx)",
                 "        return",
                 "    item = value",
                 *_item_body(walker, child, "    ", "return", "path + DOT_KEY")]
    visit: Visit = _define("\n".join(lines) + "\n", ns, "visit")
    return visit


def child_item(walker: Walker, child: Child) -> ItemVisit:
    """`item(value, path, ctx)`: one value of a child (Walker.value_generic), `path` its own."""
    if child.item is None:
        lines = ["def item(item, path, ctx):", *_item_body(walker, child, "    ", "return", "path")]
        child.item = _define("\n".join(lines) + "\n", _namespace(walker, child), "item")
    return child.item


def _text_test(value: str, kind: int) -> str:
    """primitives.plainly_valid(kind, value), inline."""
    test = f"type({value}) is str and {value}.isprintable() and {value} and len({value}) <= MAX_STRING"
    if kind == TEXT_NO_SPACE:
        return f"{test} and ' ' not in {value}"
    if kind == TEXT_ANY:
        return test
    return f"{test} and {value}[0] != ' ' and {value}[-1] != ' ' and '  ' not in {value}"


def _item_body(walker: Walker, child: Child, ind: str, done: str, path: str) -> list[str]:
    """Statements checking one value `item` of the child (Walker.value_generic) at the path `path` computes (only
    when a finding or a check needs it); `done` (return or continue) leaves them."""
    element = child.element
    if child.kind == PRIMITIVE and not element.constraints and not (
            element.binding is not None and child.type_code == "code"):
        set_path = []  # only the generic method, on the way out, needs the path
    else:
        set_path, path = [f"path = {path}"], "path"
    if child.kind == PRIMITIVE:
        valid = f"{_text_test('item', child.text)} or FORMAT(item) is None" if child.text else "FORMAT(item) is None"
        fixed = element.fixed if element.fixed is not None else element.pattern
        if element.fixed is not None and element.pattern is not None:
            valid = "False"  # both (no profile of ours does it): the generic method compares them in its order
        elif type(fixed) is str and child.check is not None and child.check(fixed) is None:
            valid = "item == FIXED"  # equal to a valid string: valid (no other JSON value equals a string)
        elif element.fixed is not None:
            valid = f"item == FIXED and ({valid})"
        elif element.pattern is not None:
            valid = f"item == FIXED and ({valid})"
        lines = ["if item is None:",
                 f"    {done}",
                 f"if not ({valid}):",
                 f"    GENERIC_VALUE(CHILD, item, {path}, ctx)",
                 f"    {done}"]
        if element.binding is not None and child.type_code == "code":
            lines.append("CHECK_CODE(item, E, path, ctx)")
        if element.constraints:
            lines += _invariant_lines("item", "")
    elif child.kind == COMPLEX and element.fixed is None and element.pattern is None:
        lines = ["if type(item) is not dict or not item:",
                 "    GENERIC_VALUE(CHILD, item, path, ctx)",
                 f"    {done}"]
        if child.type_code == "Extension":
            lines.append("EXT(N, item, path, ctx, E)")
        else:
            lines.append("(N.walk or PLAN(N))(item, path, ctx)")
        if element.binding is not None:
            lines.append("CHECK_CODED(TYPE, item, E, path, ctx)")
        lines += _hook_lines(walker, child, "item", "path", "")
        if child.type_code == "Reference":
            lines += ["reference = item.get('reference')",
                      "if type(reference) is str and ctx.frame is not None:",
                      "    ctx.refs.append(Ref(path + '.reference', reference, E.targets, E, ctx.frame,",
                      "                        'identifier' in item))"]
        if element.constraints:
            lines += _invariant_lines("item", "")
    else:  # resources, and values with a fixed or pattern value: the generic method as it is
        lines = ["GENERIC_VALUE(CHILD, item, path, ctx)"]
    return [ind + line for line in set_path + lines]
