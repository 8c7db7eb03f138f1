"""The import-linter contract `conformance` (pyproject.toml) forbids every module of the gateway but the validator's
public face, so a module added to the gateway later is forbidden to the kit too, not silently allowed."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import gateway

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_the_contract_forbids_every_gateway_module_but_the_validator() -> None:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["id"] == "conformance"]
    assert contract["type"] == "forbidden" and contract["source_modules"] == ["conformance"]
    modules = {f"gateway.{m.name}" for m in pkgutil.iter_modules(gateway.__path__)}
    assert set(contract["forbidden_modules"]) == (modules - {"gateway.validator"}) | {"gateway.validator.*"}
