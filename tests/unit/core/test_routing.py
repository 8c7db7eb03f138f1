"""Router.route: the provider named on the prescription, else the first matching rule of an active provider."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.jac import JacAdapter, render_export
from conformance.parties.exports import export_rows
from gateway.domain.model import HomecarePrescription, ServiceType
from gateway.domain.routing import Route, Router
from gateway.store.tables import Provider, RoutingRule

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
METHOFILL = "37571311000001104"  # the generated prescription's medicine (seed 1)
GLANDOSANE = "9655601000001105"  # its ancillary item
METHOTREXATE = "15517911000001104"  # a medicine it does not have


@pytest.fixture(scope="module")
def prescription() -> HomecarePrescription:
    """A canonical prescription from trust RBA, naming no provider, for delivery only."""
    result = JacAdapter(clock=lambda: NOW).parse(render_export(export_rows(1)))
    parsed = result.prescriptions[0]
    assert parsed.accepted, parsed.issues
    p = parsed.prescription
    assert p is not None
    assert (p.trust_ods, p.provider_ods, p.service_type) == ("RBA", None, ServiceType.DELIVERY)
    assert {i.dmd_code for i in p.items} == {METHOFILL, GLANDOSANE}
    return p


def provider(ods: str, *, active: bool = True) -> Provider:
    return Provider(ods=ods, name=f"Provider {ods}", mode="pull", active=active, created_at=NOW)


def rule(
    rule_id: int,
    provider_ods: str,
    *,
    priority: int = 100,
    trust: str | None = None,
    dmd: str | None = None,
    service: str | None = None,
) -> RoutingRule:
    return RoutingRule(
        id=rule_id,
        priority=priority,
        trust_ods=trust,
        dmd_code=dmd,
        service_type=service,
        provider_ods=provider_ods,
        created_at=NOW,
    )


def router(providers: list[Provider], rules: list[RoutingRule]) -> Router:
    """As the repository builds it: rules ordered by priority, then id."""
    return Router({p.ods: p for p in providers}, sorted(rules, key=lambda r: (r.priority, r.id)))


PROVIDERS = [provider("VNFKT"), provider("VNCEL"), provider("VN6XW"), provider("FTX40", active=False)]


def test_named_provider_wins_over_every_rule(prescription: HomecarePrescription) -> None:
    p = prescription.model_copy(update={"provider_ods": "VN6XW"})
    route = router(PROVIDERS, [rule(1, "VNFKT", priority=1)]).route(p)
    assert route == Route("VN6XW", "named on the prescription")


def test_named_but_unregistered_provider_is_held(prescription: HomecarePrescription) -> None:
    p = prescription.model_copy(update={"provider_ods": "VNE51"})
    route = router(PROVIDERS, [rule(1, "VNFKT")]).route(p)
    assert route.provider_ods is None
    assert route.reason == "provider VNE51 named on the prescription is not registered"


def test_named_but_inactive_provider_is_held(prescription: HomecarePrescription) -> None:
    p = prescription.model_copy(update={"provider_ods": "FTX40"})
    route = router(PROVIDERS, [rule(1, "VNFKT")]).route(p)
    assert route.provider_ods is None
    assert route.reason == "provider FTX40 named on the prescription is inactive"


def test_default_rule_matches_everything(prescription: HomecarePrescription) -> None:
    assert router(PROVIDERS, [rule(7, "VNFKT")]).route(prescription) == Route("VNFKT", "routing rule 7")


@pytest.mark.parametrize(
    ("criteria", "matches"),
    [
        ({"trust": "RBA"}, True),
        ({"trust": "RHM"}, False),
        ({"dmd": METHOFILL}, True),
        ({"dmd": GLANDOSANE}, True),  # any item of the prescription
        ({"dmd": METHOTREXATE}, False),
        ({"service": "DELIVERY"}, True),
        ({"service": "DELIVERY_NURSING"}, False),
        ({"trust": "RBA", "dmd": METHOFILL, "service": "DELIVERY"}, True),
        ({"trust": "RBA", "dmd": METHOTREXATE, "service": "DELIVERY"}, False),  # every criterion must hold
        ({"trust": "RHM", "dmd": METHOFILL, "service": "DELIVERY"}, False),
        ({"trust": "RBA", "dmd": METHOFILL, "service": "DELIVERY_TRAINING"}, False),
    ],
)
def test_rule_criteria(prescription: HomecarePrescription, criteria: dict[str, str], matches: bool) -> None:
    rules = [rule(1, "VNCEL", priority=10, **criteria), rule(2, "VNFKT", priority=999)]
    route = router(PROVIDERS, rules).route(prescription)
    assert route == (Route("VNCEL", "routing rule 1") if matches else Route("VNFKT", "routing rule 2"))


def test_rule_without_service_type_matches_a_prescription_without_one(prescription: HomecarePrescription) -> None:
    p = prescription.model_copy(update={"service_type": None})
    rules = [rule(1, "VNCEL", service="DELIVERY"), rule(2, "VNFKT", trust="RBA")]
    assert router(PROVIDERS, rules).route(p) == Route("VNFKT", "routing rule 2")


def test_lower_priority_number_wins(prescription: HomecarePrescription) -> None:
    rules = [rule(1, "VNFKT", priority=50), rule(2, "VNCEL", priority=10, trust="RBA"), rule(3, "VN6XW", priority=20)]
    assert router(PROVIDERS, rules).route(prescription) == Route("VNCEL", "routing rule 2")


def test_equal_priorities_fall_back_to_rule_id(prescription: HomecarePrescription) -> None:
    rules = [rule(9, "VNFKT", priority=10), rule(4, "VNCEL", priority=10)]
    assert router(PROVIDERS, rules).route(prescription) == Route("VNCEL", "routing rule 4")


def test_specific_rule_that_does_not_match_falls_through(prescription: HomecarePrescription) -> None:
    rules = [
        rule(1, "VNCEL", priority=1, dmd=METHOTREXATE),
        rule(2, "VN6XW", priority=2, trust="RHM"),
        rule(3, "VNFKT", priority=3),
    ]
    assert router(PROVIDERS, rules).route(prescription) == Route("VNFKT", "routing rule 3")


def test_rule_to_inactive_provider_is_skipped(prescription: HomecarePrescription) -> None:
    rules = [rule(1, "FTX40", priority=1, trust="RBA"), rule(2, "VNCEL", priority=2)]
    assert router(PROVIDERS, rules).route(prescription) == Route("VNCEL", "routing rule 2")


def test_rule_to_unregistered_provider_is_skipped(prescription: HomecarePrescription) -> None:
    rules = [rule(1, "VNE51", priority=1), rule(2, "VN6XW", priority=2)]
    assert router(PROVIDERS, rules).route(prescription) == Route("VN6XW", "routing rule 2")


@pytest.mark.parametrize(
    "rules",
    [
        [],
        [rule(1, "VNFKT", trust="RHM"), rule(2, "VNCEL", dmd=METHOTREXATE)],
        [rule(1, "FTX40")],  # matches, but its provider is inactive
    ],
)
def test_no_match_is_held(prescription: HomecarePrescription, rules: list[RoutingRule]) -> None:
    route = router(PROVIDERS, rules).route(prescription)
    assert route == Route(None, "no provider named and no routing rule matches")


def test_router_orders_rules_by_priority_itself(prescription: HomecarePrescription) -> None:
    unsorted = [rule(1, "VNFKT", priority=50), rule(2, "VNCEL", priority=10)]
    assert Router({p.ods: p for p in PROVIDERS}, unsorted).route(prescription).provider_ods == "VNCEL"


# --- re-routing after an EPS return (issue 7) -------------------------------------------------------------------------
def test_excluded_providers_are_skipped_and_a_named_one_falls_back_to_the_rules(
    prescription: HomecarePrescription,
) -> None:
    r = router([provider("VNFKT"), provider("VNCEL")], [rule(1, "VNFKT"), rule(2, "VNCEL", priority=200)])
    assert r.route(prescription, exclude=frozenset({"VNFKT"})) == Route("VNCEL", "routing rule 2")
    held = r.route(prescription, exclude=frozenset({"VNFKT", "VNCEL"}))
    assert held == Route(None, "no provider named and no routing rule matches")
    named = prescription.model_copy(update={"provider_ods": "VNFKT"})
    assert r.route(named) == Route("VNFKT", "named on the prescription")
    assert r.route(named, exclude=frozenset({"VNFKT"})) == Route("VNCEL", "routing rule 2")
