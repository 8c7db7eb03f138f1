"""Property tests: any canonical prescription the export can carry comes back unchanged through writer and parser,
and no input, however broken, makes the parser raise or leave an error unlocated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.ascribe import AscribeAdapter, render_export
from adapters.jac.rows import split_prescriber_name
from gateway.domain.identifiers import is_valid_snomed_id, nhs_number_check_digit
from gateway.domain.model import (
    Action,
    Address,
    HomecarePrescription,
    Item,
    Patient,
    Prescriber,
    PrescriberCodeType,
    RegisterCodeType,
    ServiceType,
    Sex,
)

TODAY = date(2026, 11, 22)  # the frozen clock of tests/unit/adapters/conftest.py
DATA = Path(__file__).parents[3] / "data" / "ascribe"
SETTINGS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
ADAPTER = AscribeAdapter(clock=lambda: datetime(2026, 11, 22, 9, 30, tzinfo=UTC))

DMD = ["15517911000001104", "37571311000001104", "110171000001104", "322236009", "324689003"]
POSTCODES = ["SO16 6YD", "TA1 4DA", "OX3 9DU", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH"]
FREQUENCY_CODES = ["OD", "BD", "TDS", "QDS", "OW", "STAT", "PRN", "EVERY 14 DAYS", "EVERY 2 WEEKS"]
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Each register's number format (gateway/domain/identifiers.py), as a pattern to draw from.
PRESCRIBER_CODES = {
    PrescriberCodeType.GMC: st.from_regex(r"\A[0-9]{7}\Z"),
    PrescriberCodeType.GPHC: st.from_regex(r"\A[0-9]{7}\Z"),
    PrescriberCodeType.NMC: st.from_regex(r"\A[0-9]{2}[A-Z][0-9]{4}[A-Z]\Z"),
    PrescriberCodeType.HCPC: st.from_regex(r"\A(PA|PH|RA)[0-9]{5,6}\Z"),
}
# Any printable text XML 1.0 can carry; the parser strips what surrounds a value, so the values have no margins.
_CHARACTERS = st.characters(categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters="\ufffe\uffff")
TEXT = st.text(_CHARACTERS, min_size=1, max_size=30).filter(lambda t: t == t.strip() and t.strip())
MULTILINE = st.lists(TEXT, min_size=1, max_size=3).map("\n".join)
DECIMALS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999"), places=3)


NHS_NUMBERS = (st.integers(0, 999_999_999).map("{:09d}".format)
               .filter(lambda nine: nhs_number_check_digit(nine) is not None)
               .map(lambda nine: f"{nine}{nhs_number_check_digit(nine)}"))
# Real concept ids (shared/reference/dmd-subset.csv, and SNOMED CT disorders): the check digits are tested apart.
CONCEPT_IDS = [*DMD, "69896004", "34000006", "9014002", "408015000", "13892511000001100"]
SNOMED_IDS = st.sampled_from(CONCEPT_IDS)


@st.composite
def signing_times(draw: st.DrawFn) -> datetime:
    offset = timezone(timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60))))
    moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)))
    return moment.replace(tzinfo=offset)


@st.composite
def addresses(draw: st.DrawFn) -> Address:
    return Address(lines=tuple(draw(st.lists(TEXT, min_size=1, max_size=5))), postcode=draw(st.sampled_from(POSTCODES)))


@st.composite
def items(draw: st.DrawFn, count: int, review: date | None) -> tuple[Item, ...]:
    lines = sorted(draw(st.sets(st.integers(1, 99), min_size=count, max_size=count)))
    out = []
    for line in lines:
        ancillary = draw(st.booleans())
        dose = draw(st.none() | DECIMALS) if ancillary else draw(DECIMALS)
        frequency = draw(st.none() | st.sampled_from(FREQUENCY_CODES) | TEXT)
        out.append(Item(
            line_no=line, dmd_code=draw(SNOMED_IDS), description=draw(TEXT),
            dose=dose, dose_unit=None if dose is None else draw(TEXT), frequency=frequency,
            route=draw(st.none() | TEXT), qty_per_delivery=draw(DECIMALS), qty_unit=draw(TEXT),
            days_per_delivery=draw(st.integers(1, 365)), number_of_deliveries=draw(st.integers(1, 52)),
            first_delivery_date=draw(st.none() | st.dates(date(2026, 1, 1), date(2027, 12, 31))),
            review_date=review, instructions=draw(st.none() | MULTILINE), is_ancillary=ancillary,
        ))
    return tuple(out)


@st.composite
def prescriptions(draw: st.DrawFn, rx_number: str | None = None) -> HomecarePrescription:
    action = draw(st.sampled_from(Action))
    code_type = draw(st.sampled_from(RegisterCodeType))
    name = draw(TEXT | st.builds("{}, {}".format, TEXT, TEXT).filter(lambda n: n.count(",") == 1))
    family, given = split_prescriber_name(name)
    review = draw(st.none() | st.dates(date(2026, 1, 1), date(2028, 12, 31)))
    count = draw(st.integers(0 if action is Action.CANCEL else 1, 3))
    return HomecarePrescription(
        action=action, trust_ods="RTH",
        rx_number=rx_number or draw(st.text(UPPER + "0123456789-", min_size=1, max_size=20)),
        rx_version=draw(st.integers(2 if action is Action.AMEND else 1, 999)), signed_at=draw(signing_times()),
        patient=Patient(
            nhs_number=draw(NHS_NUMBERS), hospital_number=draw(st.none() | TEXT), title=draw(st.none() | TEXT),
            family=draw(TEXT), given=tuple(draw(st.lists(TEXT, min_size=1, max_size=3))),
            birth_date=draw(st.dates(date(1900, 1, 1), TODAY)), sex=draw(st.sampled_from(Sex)),
            address=draw(addresses()), phone=draw(st.none() | TEXT), mobile=draw(st.none() | TEXT),
            email=draw(st.none() | TEXT),
        ),
        prescriber=Prescriber(name=name, family=family, given=given, code=draw(PRESCRIBER_CODES[code_type]),
                              code_type=code_type, specialty=draw(st.none() | TEXT)),
        indication=draw(TEXT), indication_snomed=draw(st.none() | SNOMED_IDS),
        provider_ods=draw(st.none() | st.sampled_from(["VNFKT", "FTX40", "VN6XW"])),
        service_type=draw(st.sampled_from(ServiceType)), delivery_address=draw(st.none() | addresses()),
        delivery_instructions=draw(st.none() | MULTILINE),
        cancel_reason=draw(TEXT) if action is Action.CANCEL else None,
        items=draw(items(count, review)), source_format="ascribe",
    )


def test_the_concept_ids_drawn_are_valid() -> None:
    assert all(is_valid_snomed_id(code) for code in CONCEPT_IDS)


@SETTINGS
@given(st.lists(prescriptions(), min_size=1, max_size=3).map(
    lambda ps: [p.model_copy(update={"rx_number": f"{p.rx_number[:16]}-{i}"}) for i, p in enumerate(ps)]),
    st.sampled_from(["UTF-8", "ISO-8859-1"]), st.sampled_from([None, "hc", "a"]), st.booleans())
def test_writer_then_parser_gives_the_same_canonical_values(expected: list[HomecarePrescription], encoding: str,
                                                            prefix: str | None, as_json: bool) -> None:
    dumped = [p.model_dump(mode="json") if as_json else p for p in expected]

    result = ADAPTER.parse(render_export(dumped, encoding=encoding, prefix=prefix))

    assert result.file_issues == []
    assert [p.issues for p in result.prescriptions] == [[] for _ in expected]
    assert [p.prescription for p in result.prescriptions] == expected
    for parsed, original in zip(result.prescriptions, expected, strict=True):
        assert parsed.prescription is not None
        assert [(str(i.dose), str(i.qty_per_delivery)) for i in parsed.prescription.items] == [
            (str(i.dose), str(i.qty_per_delivery)) for i in original.items]  # 0.40 stays 0.40, not 0.4


# --- nothing makes the parser raise ---------------------------------------------------------------------------------

_VALID = [(DATA / case / "input.xml").read_bytes() for case in ("valid_spec_example", "valid_full_features",
                                                                "valid_cancel_and_amend")]
_ODD_VALUES = ["", " ", "0", "-1", "1e3", "NaN", "2026-02-30", "true", "&", "<", "]]>", "\u00e9", "9" * 30]
_VALUES = st.one_of(TEXT, st.text(_CHARACTERS | st.sampled_from("\n\t "), max_size=12), st.sampled_from(_ODD_VALUES))


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid document with some attributes and texts replaced, and some elements removed or repeated."""
    root = etree.fromstring(draw(st.sampled_from(_VALID)))
    elements = list(root.iter())
    for _ in range(draw(st.integers(1, 6))):
        element = draw(st.sampled_from(elements))
        action = draw(st.sampled_from(["attribute", "text", "remove", "repeat"]))
        if action == "attribute" and element.attrib:
            element.set(draw(st.sampled_from(sorted(element.attrib))), draw(_VALUES))
        elif action == "text":
            element.text = draw(_VALUES)
        elif element.getparent() is not None and element.getparent().getparent() is not None:
            parent = element.getparent()
            if action == "remove":
                parent.remove(element)
                elements = list(root.iter())
            else:
                parent.append(etree.fromstring(etree.tostring(element)))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@SETTINGS
@given(damaged())
def test_damaged_documents_get_located_answers(payload: bytes) -> None:
    result = ADAPTER.parse(payload)

    for parsed in result.prescriptions:
        assert parsed.accepted == (parsed.prescription is not None)
        for issue in parsed.issues:
            assert issue.location.line and issue.location.path and issue.message
            assert issue.location.path.startswith("Prescription[")
    for issue in result.file_issues:
        assert issue.location.line and issue.message


@SETTINGS
@given(st.binary(max_size=300) | st.sampled_from(_VALID).flatmap(
    lambda doc: st.tuples(st.integers(0, len(doc)), st.binary(max_size=20)).map(
        lambda cut: doc[:cut[0]] + cut[1] + doc[cut[0]:])))
def test_no_bytes_make_the_parser_raise(payload: bytes) -> None:
    result = ADAPTER.parse(payload)

    assert result.format == "ascribe"
    assert result.file_rejected or result.prescriptions
