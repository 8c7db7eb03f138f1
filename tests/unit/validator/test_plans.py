"""Walk plans (gateway.validator.plan) are made once and shared by every later validation: no input can change what
another input is told, and no profile's plan leaks into another's."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.bench.validator import standard_prescription
from gateway.validator import Validator
from gateway.validator.package import Package
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER, PRESCRIPTION_ORDER
from tests.unit.validator.conftest import build

Bundle = dict[str, Any]
_WRONG = [None, 0, -1, 2.5, True, "", " padded", "two  spaces", "tab\there", "2026-02-30", [], {}, [{}], ["x"],
          {"unknown": 1}, "urn:uuid:nope", "9434765918", "123456"]


@pytest.fixture(scope="module")
def package() -> Package:
    return Package.load()


@pytest.fixture(scope="module")
def fresh_results(package: Package, order_once: Bundle) -> dict[str, list[dict[str, object]]]:
    """What validators that have seen nothing else say about the good bundle, one per profile."""
    return {profile: _dicts(Validator(package).validate(copy.deepcopy(order_once), profile))
            for profile in (HOMECARE_PRESCRIPTION_ORDER, PRESCRIPTION_ORDER)}


@pytest.fixture(scope="module")
def order_once() -> Bundle:
    return build(standard_prescription())


@pytest.fixture(scope="module")
def shared(package: Package) -> Validator:
    return Validator(package)


def _dicts(issues: list[Any]) -> list[dict[str, object]]:
    return [i.as_dict() | {"profile": i.profile, "element": i.element} for i in issues]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutated(bundle: Bundle, picks: list[tuple[int, int, bool]]) -> Bundle:
    """`bundle` with values replaced by wrong ones (or deleted), at positions chosen by `picks`."""
    bad = copy.deepcopy(bundle)
    for where, what, delete in picks:
        paths = _paths(bad)
        if paths:
            _spoil(bad, paths[where % len(paths)], what, delete)
    return bad


def _spoil(bundle: Bundle, path: tuple[Any, ...], what: int, delete: bool) -> None:
    parent = bundle
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(_WRONG[what % len(_WRONG)])


_PICKS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 100), st.booleans()), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=_PICKS, profile=st.sampled_from([HOMECARE_PRESCRIPTION_ORDER, PRESCRIPTION_ORDER, None]))
def test_a_bad_bundle_does_not_change_what_the_next_good_one_is_told(
    shared: Validator, order_once: Bundle, fresh_results: dict[str, list[dict[str, object]]],
    picks: list[tuple[int, int, bool]], profile: str | None,
) -> None:
    bad = _mutated(order_once, picks)
    shared.validate(bad, profile)  # never raises, whatever the input
    for good_profile, expected in fresh_results.items():
        assert _dicts(shared.validate(copy.deepcopy(order_once), good_profile)) == expected


def test_no_wrong_value_anywhere_changes_what_the_good_bundle_is_told(
    package: Package, order_once: Bundle, fresh_results: dict[str, list[dict[str, object]]]
) -> None:
    """Every position of the bundle in turn holds a wrong value (each of them, in rotation), or is deleted."""
    validator = Validator(package)
    for index, path in enumerate(_paths(order_once)):
        bad = copy.deepcopy(order_once)
        _spoil(bad, path, index, delete=index % 4 == 0)
        validator.validate(bad, HOMECARE_PRESCRIPTION_ORDER)  # never raises, whatever the input
        got = _dicts(validator.validate(copy.deepcopy(order_once), HOMECARE_PRESCRIPTION_ORDER))
        assert got == fresh_results[HOMECARE_PRESCRIPTION_ORDER], path


def test_profiles_share_no_findings_whatever_the_order(package: Package, order_once: Bundle) -> None:
    bad = copy.deepcopy(order_once)
    request = bad["entry"][1]["resource"]
    request["status"] = "on-hold"  # EPS allows it; the homecare profile does not
    del request["dispenseRequest"]["validityPeriod"]
    request["intent"] = 7
    profiles = (HOMECARE_PRESCRIPTION_ORDER, PRESCRIPTION_ORDER)
    alone = {profile: _dicts(Validator(package).validate(copy.deepcopy(bad), profile)) for profile in profiles}
    assert alone[HOMECARE_PRESCRIPTION_ORDER] != alone[PRESCRIPTION_ORDER]  # so a shared plan would show
    for order in (profiles, profiles[::-1]):
        validator = Validator(package)
        for profile in order:
            assert _dicts(validator.validate(copy.deepcopy(bad), profile)) == alone[profile]


def test_plans_hold_nothing_of_the_inputs(shared: Validator, order_once: Bundle) -> None:
    """Every value a plan's generated code can reach comes from the package, never from a validated resource."""
    bad = _mutated(order_once, [(7, 3, False), (40, 11, False), (90, 0, True)])
    for bundle in (bad, order_once):
        shared.validate(bundle, HOMECARE_PRESCRIPTION_ORDER)
    seen = {id(x) for b in (bad, order_once) for x in _containers(b) if isinstance(x, dict | list)}
    planned = 0
    for compiled in shared._compiler._profiles.values():  # noqa: SLF001 - the plans live on the compiled tables
        for node in _nodes(compiled.node):
            functions = [node.walk] + [f for c in node.children.values() for f in (c.visit, c.item)]
            for function in functions:
                if function is None:
                    continue
                planned += 1
                assert not any(id(value) in seen for value in function.__globals__.values())
    assert planned > 50


def _containers(value: Any) -> list[Any]:
    found = [value]
    for item in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        found += _containers(item)
    return found


def _nodes(root: Any) -> list[Any]:
    found, todo, seen = [], [root], set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        for child in node.children.values():
            if child.node is not None:
                todo.append(child.node)
            slicing = child.element.slicing
            for one in slicing.slices if slicing is not None else ():
                if one.child.node is not None:
                    todo.append(one.child.node)
    return found


def test_values_of_the_wrong_json_type_are_reported_never_raised(package: Package, order_once: Bundle) -> None:
    """Objects, arrays, numbers and nulls where codes, systems and extension lists belong: issues, not exceptions."""
    validator = Validator(package)
    spoilt = copy.deepcopy(order_once)
    spoilt["entry"][1]["resource"]["resourceType"] = {}
    spoilt["entry"][2]["resource"]["identifier"][0]["system"] = []
    spoilt["entry"][2]["resource"]["groupIdentifier"]["extension"] = None
    for profile in (HOMECARE_PRESCRIPTION_ORDER, PRESCRIPTION_ORDER, None):
        found = validator.validate(copy.deepcopy(spoilt), profile)
        assert any(i.severity in ("error", "fatal") for i in found), profile
