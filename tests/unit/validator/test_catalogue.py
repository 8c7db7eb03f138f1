"""The rule catalogue: every code a validator or inbound reader can emit names its source, and
docs/validation-rules.md is what `python -m gateway.validator.catalogue` generates."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway.validator import catalogue
from gateway.validator.catalogue import RULES, Source, cite

ROOT = Path(__file__).resolve().parents[3]
# Where inbound FHIR messages are refused: the issue-code modules and the readers that raise located errors.
CONSTANT_MODULES = ["gateway/validator/issues.py", "adapters/fhir/issues.py", "gateway/intake/reused_ids.py"]
READERS = [
    "gateway/fhir/inbound.py", "gateway/validator/operation.py", "gateway/dispatch/process_message.py",
    "gateway/fhir/dispense_notice.py", "gateway/delivery/returns.py", "gateway/lifecycle/withdraw.py",
    "gateway/lifecycle/deliveries.py", "gateway/fhir/task_fields.py", "gateway/lifecycle/clinical_queries.py",
    "gateway/intake/handling.py", "adapters/fhir/parties.py", "adapters/fhir/prescription.py",
    "adapters/fhir/items.py", "adapters/fhir/ids.py", "adapters/fhir/bundle.py",
]


def _emitted_codes() -> set[str]:
    found: set[str] = set()
    for rel in CONSTANT_MODULES:
        for node in ast.walk(ast.parse((ROOT / rel).read_text())):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
            value = getattr(node, "value", None)
            if any(isinstance(t, ast.Name) and t.id.isupper() for t in targets) and isinstance(value, ast.Constant) \
                    and isinstance(value.value, str) and value.value.isupper() and value.value.isidentifier():
                found.add(value.value)
    for rel in READERS:
        for node in ast.walk(ast.parse((ROOT / rel).read_text())):
            if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant):
                found.add(str(node.value.value))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_fail" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                found.add(str(node.args[0].value))
    return found


def test_every_emitted_code_names_its_source() -> None:
    emitted = _emitted_codes()
    assert len(emitted) > 60
    assert sorted(emitted - RULES.keys()) == []


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_rule_has_a_source_and_a_reference(code: str) -> None:
    rule = RULES[code]
    assert rule.code == code and isinstance(rule.source, Source) and len(rule.reference) > 10
    if rule.source is Source.EPS:
        assert "coordinator" in rule.reference or "EPS specification" in rule.reference or "EPS" in rule.reference


def test_the_generated_doc_is_current() -> None:
    assert catalogue.main(["--check"]) == 0, "run python -m gateway.validator.catalogue"
    assert (ROOT / "docs/validation-rules.md").read_text() == catalogue.render()


def test_cite_adds_the_source_and_epss_code_and_leaves_other_errors_alone() -> None:
    entry = {"severity": "error", "code": "value", "details": {"coding": [{"system": "x", "code": "INVALID_VALUE"}]}}
    cited = cite(entry)
    assert cited["details"]["coding"][1] == {"system": catalogue.SPINE_ERROR_SYSTEM, "code": "INVALID_VALUE"}
    assert cited["extension"][0]["valueCoding"]["code"] == "eps"
    other = {"severity": "error", "code": "not-found", "details": {"coding": [{"system": "x", "code": "NOPE"}]}}
    assert cite(other) == other
