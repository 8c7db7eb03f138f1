"""The writer: valid documents from canonical prescriptions, and refusals where the export cannot carry a value."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from adapters.ascribe import AscribeAdapter, render_export
from adapters.jac import JacAdapter
from adapters.jac import render_export as render_jac
from conformance.parties.exports import export_rows
from gateway.domain.model import Address, HomecarePrescription

DATA = Path(__file__).parents[3] / "data" / "ascribe"
XSD = resources.files("adapters.ascribe").joinpath("schema", "homecare-export-2.xsd")


@pytest.fixture(scope="module")
def canonical(ascribe: AscribeAdapter) -> HomecarePrescription:
    (parsed,) = ascribe.parse((DATA / "valid_full_features" / "input.xml").read_bytes()).prescriptions
    assert parsed.prescription is not None
    return parsed.prescription


def test_output_is_valid_against_the_shipped_schema(canonical: HomecarePrescription) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD)))

    for prefix in (None, "hc"):
        document = etree.fromstring(render_export([canonical], prefix=prefix))
        assert schema.validate(document), schema.error_log


def test_declaration_prefix_and_encoding(canonical: HomecarePrescription) -> None:
    payload = render_export([canonical], encoding="ISO-8859-1", prefix="hc", generated="2026-11-21T16:00:00Z")

    assert payload.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<hc:HomecareExport xmlns:hc=")
    assert b'generated="2026-11-21T16:00:00Z"' in payload and b'trustOds="RBA"' in payload
    assert "Zoë".encode("latin-1") in payload


def test_decimals_are_written_plainly_and_floats_refused(canonical: HomecarePrescription) -> None:
    item = canonical.items[0].model_copy(update={"dose": Decimal("4E+1"), "qty_per_delivery": Decimal("0.40")})
    payload = render_export([canonical.model_copy(update={"items": (item,)})])

    assert b'<Dose value="40" unit="ml"/>' in payload and b'quantity="0.40"' in payload
    dumped = canonical.model_dump()
    dumped["items"][0]["dose"] = 0.4
    with pytest.raises(TypeError, match="floats"):
        render_export([dumped])


@pytest.mark.parametrize(("change", "message"), [
    ({"site_code": "RBA01"}, "site code"),
    ({"patient": {"address": Address(lines=tuple("ABCDEF"), postcode="TA1 4DA")}}, "1 to 4 lines"),
    ({"signed_at": datetime(2026, 11, 21, 15, 45)}, "UTC offset"),
    ({"prescriber": {"clinic_code": "C1"}}, "clinic code"),
    ({"items": "review dates"}, "one ReviewDate"),
])
def test_what_the_export_cannot_carry_is_refused(canonical: HomecarePrescription, change: dict[str, Any],
                                                message: str) -> None:
    update: dict[str, Any] = {}
    for key, value in change.items():
        if key in ("patient", "prescriber"):
            update[key] = getattr(canonical, key).model_copy(update=value)
        elif key == "items":
            first, second = canonical.items
            update[key] = (first, second.model_copy(update={"review_date": date(2030, 1, 1)}))
        else:
            update[key] = value

    with pytest.raises(ValueError, match=message):
        render_export([canonical.model_copy(update=update)])


def test_one_trust_per_export(canonical: HomecarePrescription) -> None:
    other = canonical.model_copy(update={"trust_ods": "RTH", "rx_number": "X-2"})

    with pytest.raises(ValueError, match="one trust"):
        render_export([canonical, other])
    assert b'trustOds="RBA"' in render_export([canonical, other], trust_ods="RBA")


def test_jac_exports_map_to_the_same_canonical_values_through_ascribe(ascribe: AscribeAdapter) -> None:
    jac = JacAdapter(clock=lambda: datetime(2026, 11, 22, 9, 30, tzinfo=UTC))
    from_jac = [p.prescription for p in jac.parse(render_jac(export_rows(25))).prescriptions]
    assert all(from_jac)

    through_ascribe = [p.prescription for p in ascribe.parse(render_export(from_jac)).prescriptions]

    assert [p.model_copy(update={"source_format": "jac"}) if p else None for p in through_ascribe] == from_jac
