"""EPS dispensing claims: every claim in the shared EPS corpus is accepted or refused as EPS answered it, and each
rule restated from EPS's coordinator refuses what it names and nothing else."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import InputError
from gateway.invoicing.claim import ENDORSEMENT, MISSING_ENDORSEMENT, claim_issues, read_claim
from tests.paths import EPS_EXAMPLES

CLAIMS = sorted(p for p in EPS_EXAMPLES.rglob("*.json") if json.loads(p.read_bytes()).get("resourceType") == "Claim")
ACCEPTED = EPS_EXAMPLES / "spec/dispensing/claim/acute-primary-example-req.json"


def _load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_bytes()))


def test_the_corpus_has_accepted_and_refused_claims() -> None:
    names = [p.name for p in CLAIMS]
    assert any("400" in n for n in names) and sum("req" in n or "200" in n for n in names) >= 4


@pytest.mark.parametrize("path", CLAIMS, ids=lambda p: str(p.relative_to(EPS_EXAMPLES)))
def test_each_corpus_claim_is_answered_as_eps_answered_it(path: Path) -> None:
    issues = claim_issues(_load(path))
    if "Missing_Endorsement_Code" in path.name:
        assert [(i.code, i.message) for i in issues] == [("MISSING_ENDORSEMENT_CODE", MISSING_ENDORSEMENT)]
    else:
        assert issues == [], path


def test_an_accepted_claim_bills_its_dispensed_lines_only() -> None:
    invoice = read_claim(_load(ACCEPTED), "VNFKT", date(2026, 12, 1))
    # Four details; the fourth is type 0005 (item cancelled): not billed.
    assert [(line.code, str(line.quantity)) for line in invoice.lines] == [
        ("39732311000001104", "20"),
        ("322341003", "20"),
        ("321080004", "30"),
    ]
    assert invoice.lines[0].line_item_id == "a54219b8-f741-4c47-b662-e4f8dfa49ab6"
    assert (invoice.source, invoice.reference, invoice.issued) == ("claim", invoice.reference, date(2022, 11, 30))
    assert all(line.unit_price_pence is None and line.short_form_id == "24F5DA-A83008-7EFE6Z" for line in invoice.lines)


def _break(claim: dict[str, Any], where: str) -> dict[str, Any]:
    broken = copy.deepcopy(claim)
    detail = broken["item"][0]["detail"][0]
    if where == "endorsement-first-detail":
        detail["programCode"] = [c for c in detail["programCode"] if c["coding"][0]["system"] != ENDORSEMENT]
    elif where == "charge":
        detail["programCode"][0]["coding"][0]["code"] = "paid-thrice"
    elif where == "practitioner-reference":
        broken["contained"][0]["practitioner"] = {"reference": "Practitioner/1"}
    elif where == "provider":
        broken["provider"] = {"reference": "#nobody"}
    elif where == "two-items":
        broken["item"].append(copy.deepcopy(broken["item"][0]))
    elif where == "short-form":
        broken["prescription"]["extension"][0]["extension"] = []
    elif where == "sequence-id":
        detail["extension"] = detail["extension"][1:]
    elif where == "resource":
        broken["resourceType"] = "Invoice"
    return broken


@pytest.mark.parametrize(
    ("where", "code", "path"),
    [
        ("endorsement-first-detail", "MISSING_ENDORSEMENT_CODE", "Claim.item.detail.programCode"),
        ("charge", "INVALID_VALUE", "Claim.item.detail[0].programCode"),
        ("practitioner-reference", "INVALID_VALUE", 'Claim.contained("PractitionerRole").practitioner'),
        ("provider", "INVALID_VALUE", "Claim.provider"),
        ("two-items", "INVALID_VALUE", "Claim.item"),
        ("short-form", "MISSING_VALUE", "Claim.prescription.extension"),
        ("sequence-id", "MISSING_VALUE", "Claim.item.detail[0].extension"),
        ("resource", "INVALID_RESOURCE_TYPE", "resourceType"),
    ],
)
def test_each_eps_rule_refuses_what_it_names(where: str, code: str, path: str) -> None:
    issues = claim_issues(_break(_load(ACCEPTED), where))
    assert [(i.code, i.location.path) for i in issues] == [(code, path)]
    with pytest.raises(InputError):
        read_claim(_break(_load(ACCEPTED), where), "VNFKT", date(2026, 12, 1))


def test_only_the_first_detail_with_program_codes_is_looked_at_for_an_endorsement() -> None:
    """EPS's medicationDispenseEndorsementPresent returns on the first detail that has programCode."""
    claim = _load(ACCEPTED)
    later = claim["item"][0]["detail"][1]
    later["programCode"] = [c for c in later["programCode"] if c["coding"][0]["system"] != ENDORSEMENT]
    assert claim_issues(claim) == []
