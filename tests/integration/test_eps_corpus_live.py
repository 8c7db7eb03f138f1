"""The shared EPS corpus through the live endpoints: every `200_OK` request is accepted unchanged, in the order a
real flow needs (an order before its release and dispensing), with its effect on the tracker asserted; every
request EPS refuses is refused here with EPS's error code.

Flows follow the corpus (tests/data/shared/eps-examples/README.md). Examples that reuse one short-form id for
different prescriptions (EPS's spec families acute, eRD, repeat all use 24F5DA-A83008-7EFE6Z) each get a gateway
of their own; everything else shares one. SQLite for the whole corpus, PostgreSQL for one family.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.fhir import eps_ids, parse_bundle
from conformance.parties import provider_messages as msg
from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.parties import party_client, register_party
from gateway.wiring import build_gateway
from tests.conftest import serve
from tests.integration.helpers import post_fhir
from tests.paths import EPS_EXAMPLES

DISPENSER = "VNE51"  # The Simple Pharmacy: the dispensing organisation of every EPS dispensing example
SPEC = "spec/dispensing/"
PRIMARY = "primary-care/acute/nominated-pharmacy/medical-prescriber/"
ERD = "secondary-care/community/repeat-dispensing/nominated-pharmacy/clinical-practitioner/"


@dataclass(frozen=True, slots=True)
class Step:
    rel: str
    kind: str  # order, cancel, release, dispense, return, withdraw
    status: str | None = None  # the prescription's EPS status afterwards
    items: tuple[str, ...] = ()  # its line items' EPS statuses afterwards


@dataclass(slots=True)
class Flow:
    name: str
    steps: list[Step] = field(default_factory=list)


def _order_flows() -> Iterator[Step]:
    """Every prescription-order and cancel with a short-form id of its own, in file order (Send before Cancel)."""
    shared = "24F5DA-A83008-7EFE6Z"
    for path in sorted(EPS_EXAMPLES.rglob("*.json"), key=lambda p: (str(p.parent), "Cancel" in p.name, p.name)):
        rel = path.relative_to(EPS_EXAMPLES).as_posix()
        if not _accepted_request(rel):
            continue
        bundle = json.loads(path.read_bytes())
        event = _event(bundle)
        if event not in ("prescription-order", "prescription-order-update") or shared in path.read_text():
            continue
        if event == "prescription-order":
            yield Step(rel, "order", "0001")
        else:
            yield Step(rel, "cancel", "0005")


def _accepted_request(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if "Prepare" in name or "Response" in name or "VerifySignature" in name or "Convert" in name:
        return False
    return "200_OK" in name or "200-OK" in name


def _event(bundle: dict[str, Any]) -> str | None:
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "message":
        return None
    return str(bundle["entry"][0]["resource"].get("eventCoding", {}).get("code"))


ORDER = "spec/prescribing/prescription-order/eRD-primary-example-req.json"  # performer VNE51, 24F5DA-A83008-7EFE6Z
REPEAT_ORDER = "spec/prescribing/prescription-order/repeat-primary-example-req.json"
RELEASE = SPEC + "release/acute-primary-example-req.json"  # VNE51 releases 24F5DA-A83008-7EFE6Z

# Flows that reuse EPS's spec prescription 24F5DA-A83008-7EFE6Z, one gateway each. An EPS $release is a lease at
# the gateway; the provider's acknowledgement (the gateway's pull protocol) makes it 0002 With Dispenser.
DN = SPEC + "dispense-notification/"
RELEASED = [Step(ORDER, "order", "0001"), Step(RELEASE, "release", "0001"), Step(RELEASE, "ack", "0002")]
FAMILIES: dict[str, list[Step]] = {
    # A notification (03), its amendment (04, replacementOf 03's id), then the withdrawal EPS's examples name 03's id
    # in: after the withdrawal the prescription is with the dispenser again.
    **{
        f"withdraw-{kind}": [*RELEASED, Step(DN + "acute-primary-example-03-req.json", "dispense"),
                             Step(DN + "acute-primary-example-04-req.json", "dispense"),
                             Step(SPEC + f"withdraw/{kind}-primary-example-req.json", "withdraw", "0002")]
        for kind in ("acute", "eRD")
    },
    **{f"dispense-{name}": [*RELEASED, Step(DN + f"{name}-req.json", "dispense")]
       for name in ("acute-primary-example-01", "acute-primary-example-02", "eRD-primary-example")},
    "repeat": [
        Step(REPEAT_ORDER, "order", "0001"),
        Step(SPEC + "release/repeat-primary-example-req.json", "release"),
        Step(SPEC + "release/repeat-primary-example-req.json", "ack", "0002"),
        Step(DN + "repeat-primary-example-req.json", "dispense"),
        Step(DN + "acute-primary-example-03-req.json", "dispense"),
        Step(SPEC + "withdraw/repeat-primary-example-req.json", "withdraw"),
    ],
    # A return hands the prescription back: no other provider is routed, so it is held, To be Dispensed.
    **{f"return-{kind}": [*RELEASED, Step(SPEC + f"return/{kind}-primary-example-req.json", "return", "0001")]
       for kind in ("acute", "eRD", "repeat")},
}


async def _run(settings: Settings, steps: list[Step]) -> list[str]:
    """Run `steps` on a fresh gateway; the failures found (empty when every step did what it should)."""
    gw = build_gateway(settings)
    failures: list[str] = []
    try:
        await admin.add_provider(gw, ods=DISPENSER, name="The Simple Pharmacy", mode="pull")
        await admin.add_route(gw, provider_ods=DISPENSER)
        provider_key = await register_party(gw, "provider", DISPENSER)
        trusts: dict[str, Any] = {}
        released: list[dict[str, Any]] = []
        owner: dict[str | None, Any] = {}  # short-form id → the trust that sent it
        async with serve(gw) as base, party_client(base, provider_key) as provider:
            for step in steps:
                body = json.loads((EPS_EXAMPLES / step.rel).read_bytes())
                sfid = _short_form(step.rel)
                if step.kind in ("order", "cancel"):
                    parsed = parse_bundle(body).prescription
                    assert parsed is not None, step.rel
                    if parsed.trust_ods not in trusts:
                        trusts[parsed.trust_ods] = await register_party(gw, "trust", parsed.trust_ods)
                    owner[sfid] = trusts[parsed.trust_ods]
                    async with party_client(base, trusts[parsed.trust_ods]) as trust:
                        r = await post_fhir(trust, "/FHIR/R4/$process-message", body)
                elif step.kind == "release":
                    r = await post_fhir(provider, "/FHIR/R4/Task/$release", body)
                    released = msg.passed_orders(r.json()) if r.status_code == 200 else []
                    if r.status_code == 200 and not released:
                        failures.append(f"{step.rel}: released nothing")
                elif step.kind == "ack":
                    header_id = eps_ids(released[0]).message_id if released else "nothing released"
                    r = await post_fhir(provider, "/FHIR/R4/$process-message",
                                        msg.acknowledgement(DISPENSER, header_id, "corpus"))
                elif step.kind == "dispense":
                    r = await post_fhir(provider, "/FHIR/R4/$process-message", body)
                else:
                    r = await post_fhir(provider, "/FHIR/R4/Task", body)
                if r.status_code >= 300:
                    failures.append(f"{step.rel} ({step.kind}): {r.status_code} {r.text}")
                    continue
                expected = _expected_effect(step, body)
                if expected is not None:
                    async with party_client(base, owner[sfid]) as trust:
                        view = await trust.get(f"/api/v1/prescriptions/{sfid}")
                    found = _effect(view.json()) if view.status_code == 200 else (str(view.status_code), {})
                    if not _matches(found, expected):
                        failures.append(f"{step.rel} ({step.kind}): effect {found}, expected {expected}")
    finally:
        await gw.close()
    return failures


Effect = tuple[str | None, dict[str, str]]  # prescription status, line-item id → status


def _expected_effect(step: Step, body: dict[str, Any]) -> Effect | None:
    """What the tracker must show after `step`: its stated status, or for a dispense notification the EPS
    TaskBusinessStatus it carries and each line item's dispense type (EPS's line-item status code)."""
    if step.kind != "dispense":
        return (step.status, {}) if step.status else None
    status, items = None, {}
    for entry in body["entry"]:
        dispense = entry["resource"]
        if dispense["resourceType"] != "MedicationDispense":
            continue
        for ext in dispense.get("extension", []):
            if ext["url"].endswith("Extension-EPS-TaskBusinessStatus"):
                status = ext["valueCoding"]["code"]
        request = next(c for c in dispense["contained"] if c["resourceType"] == "MedicationRequest")
        item_id = next(i["value"] for i in request["identifier"] if i["system"].endswith("order-item-number"))
        items[item_id] = dispense["type"]["coding"][0]["code"]
    return status, items


def _effect(view: dict[str, Any]) -> Effect:
    return view["status"]["code"], {i["id"]: i["status"]["code"] for i in view["items"]}


def _matches(found: Effect, expected: Effect) -> bool:
    status, items = expected
    return (status is None or found[0] == status) and all(found[1].get(k) == v for k, v in items.items())


def _short_form(rel: str) -> str | None:
    found = re.search(r"[0-9A-F]{6}-[0-9A-Z]{6}-[0-9A-F]{5}[0-9A-Z+]", (EPS_EXAMPLES / rel).read_text())
    return found.group(0) if found else None


def _shards(steps: list[Step]) -> list[list[Step]]:
    """Orders (and the cancels that follow them) split so that no gateway sees two prescriptions sharing an id:
    EPS's examples reuse MessageHeader and line-item ids across prescriptions, which a gateway rightly refuses."""
    shards: list[tuple[set[str], list[Step]]] = []
    placed: dict[str | None, int] = {}
    for step in steps:
        sfid = _short_form(step.rel)
        if step.kind == "cancel" and sfid in placed:
            shards[placed[sfid]][1].append(step)
            continue
        ids = _ids(step.rel)
        index = next((n for n, (used, _) in enumerate(shards) if not used & ids), None)
        if index is None:
            shards.append((set(), []))
            index = len(shards) - 1
        shards[index][0].update(ids)
        shards[index][1].append(step)
        placed[sfid] = index
    return [s for _, s in shards]


def _ids(rel: str) -> set[str]:
    ids = eps_ids(json.loads((EPS_EXAMPLES / rel).read_bytes()))
    return {ids.message_id, ids.prescription_id, ids.short_form_id, *ids.item_ids.values()}


@pytest.fixture
def fresh_settings(sqlite_template: Path, tmp_path: Path) -> Callable[[], Settings]:
    """Settings on a new copy of the migrated SQLite template each call: one gateway each."""
    made = itertools.count()

    def make() -> Settings:
        n = next(made)
        path = tmp_path / f"hgw-{n}.sqlite3"
        shutil.copyfile(sqlite_template, path)
        return Settings(data_dir=tmp_path / f"data-{n}", database_url=f"sqlite+aiosqlite:///{path}", mode="test",
                        port=0, token_seconds=3600)

    return make


async def test_orders_and_cancels(fresh_settings: Callable[[], Settings]) -> None:
    shards = _shards(list(_order_flows()))
    assert sum(len(s) for s in shards) == 50  # 50 orders and cancels of their own prescription; 24F5DA: below
    failures = []
    for shard in shards:
        failures += await _run(fresh_settings(), shard)
    assert failures == []


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_families(family: str, fresh_settings: Callable[[], Settings]) -> None:
    assert await _run(fresh_settings(), FAMILIES[family]) == []


def _refused_requests() -> list[str]:
    """Every `$process-message` request EPS answers 400, each next to its recorded response."""
    return sorted(p.relative_to(EPS_EXAMPLES).as_posix() for p in EPS_EXAMPLES.rglob("*Process-Request*400*.json"))


@pytest.mark.parametrize("rel", _refused_requests())
async def test_what_eps_refuses_is_refused_here_with_a_located_4xx(
    rel: str, fresh_settings: Callable[[], Settings]
) -> None:
    """Sent as the other side would (a prescription by its trust, a dispense notification by the dispenser): a 4xx
    OperationOutcome with every issue located and coded, never a 5xx and never an acceptance; EPS's own error code
    is named where its recorded response gives one."""
    body = json.loads((EPS_EXAMPLES / rel).read_bytes())
    recorded = EPS_EXAMPLES / rel.replace("-Request-", "-Response-")
    answer = json.loads(recorded.read_bytes()) if recorded.exists() else {}
    eps_codes = {c["code"] for i in answer.get("issue", []) for c in i.get("details", {}).get("coding", [])}
    gw = build_gateway(fresh_settings())
    try:
        await admin.add_provider(gw, ods=DISPENSER, name="The Simple Pharmacy", mode="pull")
        await admin.add_route(gw, provider_ods=DISPENSER)
        sender = "provider" if "Dispense" in rel else "trust"
        ods = DISPENSER if sender == "provider" else _trust_ods(body)
        key = await register_party(gw, sender, ods)
        async with serve(gw) as base, party_client(base, key) as client:
            r = await post_fhir(client, "/FHIR/R4/$process-message", body)
    finally:
        await gw.close()
    assert 400 <= r.status_code < 500, (rel, r.status_code, r.text[:500])
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"], outcome
    errors = [i for i in outcome["issue"] if i["severity"] in ("error", "fatal")]
    assert errors and all(i.get("expression") or i.get("diagnostics") for i in errors), outcome
    named = json.dumps(outcome)
    assert not eps_codes or any(code in named for code in eps_codes), (eps_codes, outcome)


def _trust_ods(bundle: dict[str, Any]) -> str:
    sender = bundle["entry"][0]["resource"].get("sender", {}).get("identifier", {}).get("value")
    return str(sender or "RBA")
