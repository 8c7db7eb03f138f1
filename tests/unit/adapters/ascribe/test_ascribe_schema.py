"""The shipped XSD: packaged, valid XML Schema, in agreement with the adapter, and its findings located."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from adapters.ascribe import AscribeAdapter, schema_source
from adapters.ascribe.document import load
from adapters.ascribe.schema import validate

DATA = Path(__file__).parents[3] / "data" / "ascribe"
XSD = resources.files("adapters.ascribe").joinpath("schema", "homecare-export-2.xsd")
WELL_FORMED = sorted(p.name for p in DATA.iterdir()
                     if p.name.startswith(("valid_", "invalid_s", "invalid_root")) or p.name == "malicious_xinclude")


@pytest.fixture(scope="module")
def shipped() -> etree.XMLSchema:
    """The XSD as a trust's integrator would use it: plain lxml, nothing of the adapter."""
    return etree.XMLSchema(etree.parse(str(XSD)))


def test_the_xsd_is_package_data() -> None:
    assert XSD.is_file()
    assert schema_source() == XSD.read_bytes()
    assert b'targetNamespace="urn:ascribe:homecare:export:2"' in schema_source()


@pytest.mark.parametrize("case", WELL_FORMED)
def test_the_shipped_xsd_and_the_adapter_agree(shipped: etree.XMLSchema, ascribe: AscribeAdapter,
                                              case: str) -> None:
    """Whole-document validation with the shipped XSD gives the same verdict as the adapter's split validation."""
    payload = (DATA / case / "input.xml").read_bytes()
    document, file_issues = load(payload)
    assert document is not None and not file_issues

    report = validate(document)

    whole = shipped.validate(etree.fromstring(payload))
    split = not report.file_issues and not any(f.issues or f.missing_children for f in report.prescriptions.values())
    assert whole == split == case.startswith("valid_")


def test_schema_findings_are_located_in_each_prescription(ascribe: AscribeAdapter) -> None:
    payload = (DATA / "invalid_several_errors" / "input.xml").read_bytes()
    document, _ = load(payload)
    assert document is not None

    report = validate(document)

    assert sorted(report.prescriptions) == [1]  # the first and third are valid for the schema
    found = {(i.code, i.location.line, i.location.path) for i in report.prescriptions[1].issues}
    assert ("INVALID_DATETIME", 24, "Prescription[2]/@authored") in found
    assert ("INVALID_CODE", 29, "Prescription[2]/Patient/Gender") in found
    assert ("OUT_OF_RANGE", 42, "Prescription[2]/Items/Item[1]/Supply/@quantity") in found
    assert ("DUPLICATE_LINE_NO", 45, "Prescription[2]/Items/Item[2]/@line") in found
    # NHS number, postcode and check digits are beyond XSD 1.0: the schema says nothing of them.
    assert not any(code in {"INVALID_NHS_NUMBER", "INVALID_POSTCODE", "INVALID_DMD_CODE"} for code, _, _ in found)


def test_prefixed_documents_are_located_the_same(ascribe: AscribeAdapter) -> None:
    payload = (DATA / "valid_full_features" / "input.xml").read_bytes()
    broken = payload.replace(b'days="28" />', b'days="0" />').replace(b"<hc:Gender>female", b"<hc:Gender>f")
    default = broken.replace(b"hc:", b"").replace(b"xmlns:hc=", b"xmlns=")

    located = [{(i.code, i.location.line, i.location.path) for i in ascribe.parse(p).prescriptions[0].errors}
               for p in (broken, default)]

    assert located[0] == located[1] == {
        ("INVALID_CODE", 10, "Prescription[1]/Patient/Gender"),
        ("OUT_OF_RANGE", 29, "Prescription[1]/Items/Item[1]/Supply/@days"),
    }


@pytest.mark.parametrize("padding", [65_511, 65_512, 65_513, 70_000])
def test_line_numbers_beyond_65535_are_exact(ascribe: AscribeAdapter, padding: int) -> None:
    """libxml2 keeps 16-bit line numbers on nodes; past 65,535 lxml's are one too high, and are corrected."""
    payload = (DATA / "valid_spec_example" / "input.xml").read_bytes()
    markup = b"<!-- <Item line='9'> -->\n<?pi <x/> ?>\n"  # what looks like a tag but is not one
    padded = payload.replace(b"<Items>", b"<Items>" + markup + b"\n" * padding)
    padded = padded.replace(b"Tom\xc3\xa1s", b"<![CDATA[Tom<\n>s]]>")
    padded = padded.replace(b'days="56"', b'days="0"').replace(b"<Route>Subcutaneous", b"<Route>  ")

    issues = ascribe.parse(padded).prescriptions[0].issues

    true_line = padded[:padded.index(b"<Supply")].count(b"\n") + 1
    assert [(i.code, i.location.line) for i in issues] == [("MISSING_VALUE", true_line - 1),
                                                          ("OUT_OF_RANGE", true_line)]
