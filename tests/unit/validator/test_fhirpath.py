"""The fast FHIRPath compiler: it agrees with fhirpathpy on every invariant we ship, its guards are sound, and its
dates, quantities and numbers follow the FHIRPath specification where fhirpathpy (untyped at run time) does not."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gateway.validator.fhirpath_fast import compile_fast
from gateway.validator.invariants import combine, compile_invariant
from gateway.validator.package import Package

OURS = [
    "dispenseRequest.numberOfRepeatsAllowed.exists() implies courseOfTherapyType.coding.where(code = "
    "'continuous-repeat-dispensing').exists()",
    "businessStatus.coding.where(code = 'failed').exists() implies input.where(type.coding.code = "
    "'failure-reason').exists()",
    "businessStatus.coding.where(code = 'delivered').exists() implies executionPeriod.end.hasValue()",
    "name.exists() and name.all(family.exists())",
    "identifier.count() >= 1 or telecom.empty()",
    "status = 'active' xor intent = 'plan'",
    "gender.exists().not() or gender != 'unknown'",
    "name.first().given.first().length() > 2",
    "id.matches('^[a-z]+$') and id.startsWith('ab')",
    "(identifier.count() + name.count()) > 0",
    "status in ('active' | 'draft')",
    "('x' & id & 'y') = 'xaby'",
    "id.substring(1) = 'bc' and id.substring(0, 1) = 'a'",
    "name.given.exists(length() > 3)",
    "telecom.where(system = 'phone').empty() or telecom.where(system = 'phone').all(value.startsWith('0'))",
]
VALUES: list[dict[str, Any]] = [
    {}, {"status": "active"}, {"status": "active", "intent": "plan"}, {"intent": "plan"}, {"status": "draft"},
    {"id": "abc"}, {"id": "xyz"}, {"gender": "unknown"}, {"gender": "male", "name": [{"given": ["Jo"]}]},
    {"name": [{"family": "A", "given": ["Jane"]}, {"given": ["X"]}], "identifier": [{"value": "1"}]},
    {"telecom": [{"value": "1"}]}, {"telecom": [{"system": "phone", "value": "01"}, {"system": "email"}]},
    {"telecom": [{"system": "phone", "value": "11"}]},
    {"dispenseRequest": {"numberOfRepeatsAllowed": 2}, "courseOfTherapyType": {"coding": [{"code": "acute"}]}},
    {"dispenseRequest": {"numberOfRepeatsAllowed": 2},
     "courseOfTherapyType": {"coding": [{"code": "continuous-repeat-dispensing"}]}},
    {"businessStatus": {"coding": [{"code": "failed"}]}, "input": [{"type": {"coding": [{"code": "failure-reason"}]}}]},
    {"businessStatus": {"coding": [{"code": "failed"}]}},
    {"businessStatus": {"coding": [{"code": "delivered"}]}, "executionPeriod": {"end": "2026-01-01"}},
    {"businessStatus": {"coding": [{"code": "delivered"}]}, "executionPeriod": {}},
]


def _both(expression: str, path: str | None = None) -> tuple[Any, Any]:
    return compile_invariant(expression, path=path), compile_invariant(expression, fast=False, path=path)


@pytest.mark.parametrize("expression", OURS)
def test_fast_fhirpath_agrees_with_fhirpathpy(expression: str) -> None:
    assert compile_fast(expression) is not None, "outside the fast subset"
    fast, slow = _both(expression)
    assert fast.fast and not slow.fast
    assert [fast.evaluate(v) for v in VALUES] == [slow.evaluate(v) for v in VALUES]


def _shipped() -> list[tuple[str, str, str]]:
    """(key, element path, expression) of every FHIRPath invariant in the package (base and ours)."""
    out = set()
    for sd in Package.load().of_type("StructureDefinition"):
        for element in sd.get("snapshot", {}).get("element", []) + sd.get("differential", {}).get("element", []):
            for constraint in element.get("constraint", []):
                out.add((constraint["key"], element["path"], constraint["expression"]))
    return sorted(out)


NATIVE = {"dom-3", "bdl-7"}  # outside the fast subset (descendants(), select()…), and checked by the walker


def test_every_shipped_invariant_is_compiled_fast_and_agrees_on_the_common_values() -> None:
    shipped = _shipped()
    assert len({key for key, _, _ in shipped}) >= 55
    for key, path, expression in shipped:
        if key in NATIVE:
            assert compile_fast(expression) is None, key
            continue
        assert compile_fast(expression) is not None, (key, expression)
        fast, slow = _both(expression, path)
        assert [fast.evaluate(v, v, v) for v in VALUES] == [slow.evaluate(v, v, v) for v in VALUES], key


def test_unsupported_fhirpath_falls_back_to_fhirpathpy() -> None:
    assert compile_fast("name.select(given)") is None
    check = compile_invariant("name.select(given).count() = 2")
    assert not check.fast
    assert check.evaluate({"name": [{"given": ["a"]}, {"given": ["b"]}]}) is True
    assert compile_invariant("children().hasValue()").evaluate({}) is False


def test_choice_elements_resolve_by_their_type_suffix() -> None:
    inv_1 = ("(part.exists() and value.empty() and resource.empty()) or (part.empty() and (value.exists() xor "
             "resource.exists()))")
    fast, slow = _both(inv_1, "Parameters.parameter")
    for value, expected in (({"name": "a", "valueString": "x"}, True), ({"name": "a"}, False),
                            ({"name": "a", "valueString": "x", "resource": {"resourceType": "Patient"}}, False),
                            ({"name": "a", "part": [{"name": "b"}], "valueBoolean": True}, False)):
        assert fast.evaluate(value) is slow.evaluate(value) is expected, value
    # `valueSet` is not a choice of `value`: no false match on another element that starts the same way.
    assert compile_invariant("value.exists()").evaluate({"valueSet": "x"}) is False


@pytest.mark.parametrize(("expression", "absent", "differs"), [
    ("period.exists() implies period >= 0", {"period"}, set()),
    ("code.empty() or system.exists()", {"code"}, set()),
    ("start.hasValue().not() or end.hasValue().not() or (start <= end)", {"start", "end"}, set()),
    ("type = 'document' implies (timestamp.hasValue())", {"type"}, {("type", "document")}),
    ("total.empty() or (type = 'searchset') or (type = 'history')", {"total", "type"}, set()),
    ("(identifier.count() + name.count()) > 0", set(), set()),
    ("path.exists() xor searchParam.exists()", set(), set()),
])
def test_guards(expression: str, absent: set[str], differs: set[tuple[str, str]]) -> None:
    compiled = compile_fast(expression, frozenset())
    assert compiled is not None
    assert compiled.guard == absent and set(compiled.differs) == differs


def test_guards_are_sound_on_every_shipped_invariant() -> None:
    """When the guard says an invariant holds, evaluating it says so too."""
    for key, _, expression in _shipped():
        compiled = compile_fast(expression)
        if compiled is None:
            continue
        for value in VALUES:
            settled = bool(compiled.guard - value.keys()) or any(
                type(value.get(n)) is str and value.get(n) != lit for n, lit in compiled.differs)
            if settled:
                assert compiled.evaluate(value, None, None) is True, (key, value)


def test_combined_check_reports_each_failure() -> None:
    qty = compile_invariant("code.empty() or system.exists()")
    positive = compile_invariant("value > 0")
    check = combine(((qty.guard, qty.differs, qty.evaluate), (positive.guard, positive.differs, positive.evaluate)))
    assert check({"value": 1}, None, None) is None
    assert check({"value": -1, "code": "mg"}, None, None) == [(0, False), (1, False)]
    assert check({"value": "x"}, None, None) == [(1, None)]  # a string is not ordered against a number


@pytest.mark.parametrize(("a", "operator", "b", "expected"), [
    ("2026-01-01T09:30:00Z", ">=", "2026-01-01T10:00:00+01:00", True),  # 09:30Z is after 09:00Z
    ("2026-01-01", "<", "2026-01-02T00:00:00Z", True),
    ("2026-01-01", "<", "2026-01-01T10:00:00Z", None),  # precisions differ, equal as far as both go: empty
    ("2026-03", ">", "2026-02-28", True),
    ("2026-01-01", "<=", "2026-01-01", True),
])
def test_dates_compare_as_dates(a: str, operator: str, b: str, expected: bool | None) -> None:
    compiled = compile_fast(f"x {operator} y", frozenset())
    assert compiled is not None
    assert compiled.collection({"x": a, "y": b}, None, None) == ([] if expected is None else [expected])


def test_quantities_of_one_unit_compare() -> None:
    rng_2 = compile_invariant("low.empty() or high.empty() or (low <= high)", path="Range")
    mg = {"system": "http://unitsofmeasure.org", "code": "mg"}
    assert rng_2.evaluate({"low": {"value": 5, **mg}, "high": {"value": 3, **mg}}) is False
    assert rng_2.evaluate({"low": {"value": 1, **mg}, "high": {"value": 3, **mg}}) is True
    assert rng_2.evaluate({"low": {"value": 5, **mg}, "high": {"value": 3, "unit": "g"}}) is True  # not comparable


def test_floats_and_decimals_are_one_kind_of_number() -> None:
    compiled = compile_fast("value = 0.4 and value.toString() = '0.4' and (value + 0.1) = 0.5", frozenset())
    assert compiled is not None
    assert compiled.evaluate({"value": 0.4}, None, None) is True
    assert compiled.evaluate({"value": Decimal("0.4")}, None, None) is True


def test_resource_variables_and_errors() -> None:
    bdl_3 = compile_invariant("entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = "
                              "'transaction' or %resource.type = 'history'))", path="Bundle")
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"url": "x"}}, {}]}
    assert bdl_3.evaluate(transaction, transaction, transaction) is False
    transaction["entry"].pop()
    assert bdl_3.evaluate(transaction, transaction, transaction) is True
    tim_9 = compile_invariant("offset.empty() or (when.exists() and ((when in ('C' | 'CM' | 'CD' | 'CV')).not()))")
    assert tim_9.evaluate({"offset": 1, "when": ["C", "MORN"]}) is None  # `in` on two items: an error
    assert tim_9.evaluate({"offset": 1, "when": ["C"]}) is False
    assert tim_9.evaluate({"offset": 1, "when": ["MORN"]}) is True


def test_generated_code_keeps_literals_as_data() -> None:
    compiled = compile_fast("name = 'x\\') or __import__(\\'os\\')' and `odd name`.exists()", frozenset())
    assert compiled is not None
    assert compiled.evaluate({"name": "x') or __import__('os')", "odd name": 1}, None, None) is True
