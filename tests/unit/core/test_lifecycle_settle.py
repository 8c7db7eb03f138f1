"""`lifecycle.settle`: what notifications and deliveries add up to, on the EPS examples and by property."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_profiles import PACKAGE_DIR
from gateway.domain import states as lifecycle
from gateway.domain.states import Line, Settled, check_settled, settle
from gateway.errors import StateTransitionError
from gateway.fhir.dispense_notice import read_notice
from gateway.fhir.inbound import read_message
from tests.paths import EPS_EXAMPLES

A, B = Line("a", 3), Line("b", 1)


def test_nothing_reported_is_with_dispenser() -> None:
    assert settle([A, B], [], 0) == Settled("0002", {"a": "0008", "b": "0008"})


def test_a_partial_supply_is_active_and_the_latest_notification_wins() -> None:
    assert settle([A, B], [{"a": "0003"}], 0).status == "0003"
    assert settle([A, B], [{"a": "0003"}, {"a": "0004", "b": "0001"}], 0) == Settled("0003", {"a": "0004", "b": "0001"})


def test_owing_alone_has_started() -> None:
    assert settle([A], [{"a": "0004"}], 0).status == "0003"


def test_every_line_closed_is_dispensed_or_not_dispensed() -> None:
    assert settle([A, B], [{"a": "0001", "b": "0001"}], 0).status == "0006"
    assert settle([A, B], [{"a": "0001", "b": "0002"}], 0).status == "0006"
    assert settle([A, B], [{"a": "0002", "b": "0005"}], 0).status == "0007"


def test_deliveries_made_supply_the_lines_they_authorise() -> None:
    assert settle([A, B], [], 1) == Settled("0003", {"a": "0008", "b": "0001"})  # b authorises one delivery
    assert settle([A, B], [{"a": "0003"}], 3) == Settled("0006", {"a": "0001", "b": "0001"})


def test_an_owed_line_stays_open_after_the_last_delivery() -> None:
    assert settle([A, B], [{"a": "0004"}], 3) == Settled("0003", {"a": "0004", "b": "0001"})


def test_unknown_lines_in_a_notification_are_ignored() -> None:
    assert settle([B], [{"zz": "0001"}], 0).items == {"b": "0008"}


def test_check_settled_refuses_without_a_provider() -> None:
    with pytest.raises(StateTransitionError, match="0001 To be Dispensed: only a prescription with its provider"):
        check_settled("0001", {"a": "0007"}, settle([A], [{"a": "0001"}], 0))


def test_going_back_is_a_correction() -> None:
    dispensed = {"a": "0001"}
    back = settle([A], [], 0)
    with pytest.raises(StateTransitionError):
        check_settled("0006", dispensed, back)
    check_settled("0006", dispensed, back, correction=True)
    check_settled("0006", dispensed, settle([A], [dispensed], 0))  # staying put is fine


@pytest.mark.parametrize(("example", "status"), [("01", "0003"), ("02", "0003"), ("03", "0006"), ("04", "0006")])
def test_the_eps_examples_settle_to_the_status_they_declare(example: str, status: str) -> None:
    path = EPS_EXAMPLES / "spec" / "dispensing" / "dispense-notification" / f"acute-primary-example-{example}-req.json"
    bundle = json.loads(path.read_text(encoding="utf-8"))
    _, resources = read_message(bundle)
    notice = read_notice(resources, None, bundle)
    lines = [Line(item, 6) for item in notice.lines]
    settled = settle(lines, [{i: o.status for i, o in notice.lines.items()}], 0)
    assert settled.status == notice.declared == status


def test_failed_delivery_reasons_are_the_code_system() -> None:
    system = json.loads((PACKAGE_DIR / "CodeSystem" / "homecare-failed-delivery-reason.json").read_text())
    assert list(lifecycle.FAILED_DELIVERY_REASONS) == [c["code"] for c in system["concept"]]
    assert [d for d, _ in lifecycle.FAILED_DELIVERY_REASONS.values()] == [c["display"] for c in system["concept"]]
    parties = {p for _, p in lifecycle.FAILED_DELIVERY_REASONS.values()}
    assert {lifecycle.Party.PATIENT, lifecycle.Party.PROVIDER, lifecycle.Party.TRUST} <= parties


outcomes = st.sampled_from(sorted(lifecycle.DISPENSE_OUTCOMES))
lines = st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4).map(
    lambda counts: [Line(f"l{n}", c) for n, c in enumerate(counts)]
)


@settings(max_examples=300, deadline=None)
@given(lines=lines, data=st.data(), made=st.integers(min_value=0, max_value=5))
def test_settle_invariants(lines: list[Line], data: st.DataObject, made: int) -> None:
    ids = [line.id for line in lines]
    notes = data.draw(st.lists(st.dictionaries(st.sampled_from(ids), outcomes), max_size=4))
    settled = settle(lines, notes, made)
    closed = not any(s in lifecycle.OPEN_ITEMS for s in settled.items.values())
    assert closed == (settled.status in (lifecycle.DISPENSED, lifecycle.NOT_DISPENSED))
    if made > 0:
        assert settled.status != lifecycle.WITH_DISPENSER and settled.status != lifecycle.NOT_DISPENSED
    # One more delivery never reopens a line, and it moves forward, unless the provider said it would not
    # dispense at all: a delivery then contradicts it and is refused.
    more = settle(lines, notes, made + 1)
    assert {i for i, s in more.items.items() if s in lifecycle.OPEN_ITEMS} <= {
        i for i, s in settled.items.items() if s in lifecycle.OPEN_ITEMS
    }
    if settled.status == lifecycle.NOT_DISPENSED:
        with pytest.raises(StateTransitionError):
            check_settled(settled.status, settled.items, more)
    else:
        check_settled(settled.status, settled.items, more)
    # Withdrawing the latest notification is always an allowed correction.
    if notes:
        check_settled(settled.status, settled.items, settle(lines, notes[:-1], made), correction=True)
