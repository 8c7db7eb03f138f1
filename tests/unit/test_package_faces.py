"""Each stage package states its public face in `__all__` (issue 17), as httpx's `test_exported_members` does:
every name listed is importable, and every public module of the package is listed, so a new module is a decision."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

STAGES = [
    "gateway.bench",
    "gateway.delivery",
    "gateway.dispatch",
    "gateway.domain",
    "gateway.intake",
    "gateway.kpis",
    "gateway.lifecycle",
    "gateway.operations",
    "gateway.safety",
]


@pytest.mark.parametrize("name", STAGES)
def test_all_lists_every_public_module_and_nothing_else(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__all__
    modules = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))
    assert list(exported) == sorted(exported), f"{name}.__all__ is not sorted"
    assert sorted(exported) == modules, f"{name}.__all__ differs from its modules"
    for member in exported:
        assert importlib.import_module(f"{name}.{member}") is not None


@pytest.mark.parametrize("name", STAGES)
def test_the_package_says_what_enters_and_what_leaves(name: str) -> None:
    doc = importlib.import_module(name).__doc__ or ""
    assert len(doc.split()) >= 12, f"{name} has no docstring saying what it does"
