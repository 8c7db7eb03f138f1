"""The store is the only place with SQL and ORM calls (issue #17): every module of `gateway/` outside
`gateway/store/` is parsed, and a session call or an import of a query construct there fails naming file:line.

Services may still open a session and a transaction (`async with gw.sessions() as session, session.begin():`)
and hand the session to store functions: that is not SQL, so `begin`, `commit` and `rollback` are allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"
STORE = GATEWAY / "store"

# What a session or a connection does that is SQL or the ORM's unit of work.
SESSION_CALLS = frozenset(
    {"add", "add_all", "execute", "exec", "scalar", "scalars", "get", "delete", "merge", "flush", "refresh",
     "connection", "stream", "stream_scalars"}
)
# Methods that run SQL whatever holds them (no other object in the gateway has one of these names).
SQL_METHODS = frozenset({"exec", "execute", "executemany", "scalar", "scalars", "scalar_one", "add_all"})
# Names that hold a session or a connection wherever the gateway has one.
SESSION_NAMES = frozenset({"session", "connection", "conn"})
QUERY_CONSTRUCTS = frozenset({"select", "update", "delete", "insert", "text", "func", "col", "and_", "or_"})
SQL_PACKAGES = ("sqlalchemy", "sqlmodel")

# Modules outside gateway/store/ that may still use SQL, each with the reason. Keep it empty unless truly needed.
EXEMPT: dict[str, str] = {}


def _is_session(node: ast.expr) -> bool:
    """`session`, `self.session`, or `(await session.connection())`."""
    if isinstance(node, ast.Name):
        return node.id in SESSION_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in SESSION_NAMES
    if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
        return isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "connection"
    return False


def _from_sql_package(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in SQL_PACKAGES


def violations(path: Path) -> list[str]:
    """Every SQL or ORM call and every query-construct import in one module, as `file:line: what`."""
    return source_violations(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())


def source_violations(source: str, where: str) -> list[str]:
    found: list[str] = []
    tree = ast.parse(source, filename=where)
    sql_modules: set[str] = set()  # local names bound to `import sqlalchemy` and the like
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _from_sql_package(node.module):
            for alias in node.names:
                if alias.name in QUERY_CONSTRUCTS:
                    found.append(f"{where}:{node.lineno}: imports {alias.name} from {node.module}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _from_sql_package(alias.name):
                    sql_modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            if method in SQL_METHODS or (method in SESSION_CALLS and _is_session(receiver)):
                found.append(f"{where}:{node.lineno}: calls {ast.unparse(receiver)}.{method}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in QUERY_CONSTRUCTS
            and isinstance(node.value, ast.Name)
            and node.value.id in sql_modules
        ):
            found.append(f"{where}:{node.lineno}: uses {node.value.id}.{node.attr}")
    return found


def _modules() -> list[Path]:
    return sorted(p for p in GATEWAY.rglob("*.py") if STORE not in p.parents)


def test_no_sql_outside_the_store() -> None:
    found = [v for path in _modules() if path.relative_to(ROOT).as_posix() not in EXEMPT for v in violations(path)]
    assert found == [], "SQL or ORM calls outside gateway/store/ (move them into a store function):\n" + "\n".join(
        found
    )


def test_store_modules_stay_short() -> None:
    """One concept per store module (STYLE.md): none grows past 400 lines."""
    lengths = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in STORE.rglob("*.py")}
    assert {name: n for name, n in lengths.items() if n > 400} == {}


def test_exemptions_are_still_needed() -> None:
    """An exemption whose module no longer uses SQL (or no longer exists) is dropped, so the list cannot rot."""
    stale = [name for name in EXEMPT if not (ROOT / name).exists() or not violations(ROOT / name)]
    assert stale == []


def test_the_check_sees_each_kind_of_call() -> None:
    """The scanner itself: each forbidden form is reported with its line, and the allowed ones are not."""
    source = (
        "import sqlalchemy as sa\n"
        "from sqlmodel import select, col\n"
        "from sqlalchemy.exc import IntegrityError\n"
        "async def f(session, items):\n"
        "    session.add(1)\n"
        "    await session.exec(sa.text('SELECT 1'))\n"
        "    await (await session.connection()).execute(None)\n"
        "    items.add(1)\n"
        "    admin.execute('DROP DATABASE x')\n"
        "    {}.get('a')\n"
        "    async with session.begin():\n"
        "        await client.stream('GET', '/')\n"
    )
    found = source_violations(source, "gateway/sample.py")
    lines = sorted(int(v.split(":")[1]) for v in found)
    assert lines == [2, 2, 5, 6, 6, 7, 7, 9], found
    assert any("imports col from sqlmodel" in v for v in found)
    assert any("uses sa.text" in v for v in found)
    assert any("calls admin.execute" in v for v in found)
