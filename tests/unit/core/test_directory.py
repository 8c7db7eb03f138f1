"""The organisation directory: what a prescription needs from it, or located errors saying what to configure; the
NHS ODS etr.csv reader."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gateway.domain.directory import NOT_CONFIGURED, Directory, TeamContact, job_role_code
from gateway.operations.ods_file import parse_ods_file
from gateway.simulate.directory import SAMPLE_ORGANISATIONS, sample_directory

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
ETR = (
    "RBA,TAUNTON AND SOMERSET NHS FOUNDATION TRUST,Y58,QSL,MUSGROVE PARK HOSPITAL,PARKFIELD DRIVE,TAUNTON,,,TA1 5DA,"
    "19910401,,,,,,,01823 333444,,,,0,,,,,\n"
    "\n"
    "R!X,BAD CODE,Y58,QSL,,,,,,TA1 5DA,19910401,,,,,,,,,,,0,,,,,\n"
    "RHM,UNIVERSITY HOSPITAL SOUTHAMPTON NHS FOUNDATION TRUST,Y59,QRL,TREMONA ROAD,,SOUTHAMPTON,,,SO16 6YD,"
    "1993-04-01,,,,,,,,,,,0,,,,,\n"
    "RTH,OXFORD UNIVERSITY HOSPITALS NHS FOUNDATION TRUST,Y59,QU9\n"
    "RRE,MIDLANDS PARTNERSHIP UNIVERSITY NHS FOUNDATION TRUST,Y60,QNC,ST GEORGES HOSPITAL,,STAFFORD,,,ST16 3SR,"
    "20180601,20250331\n"
)


def test_a_site_of_a_trust_gets_the_site_its_parent_and_the_team_contact() -> None:
    found = sample_directory().prescribing("RBA", "A99968")
    assert not isinstance(found, list)
    assert (found.organisation.ods, found.parent and found.parent.ods) == ("A99968", "RBA")
    assert found.contact.job_role == "R8000"
    trust_only = sample_directory().prescribing("RBA", None)
    assert not isinstance(trust_only, list) and trust_only.parent is None and trust_only.organisation.ods == "RBA"


def test_what_is_missing_is_located_and_says_what_to_configure() -> None:
    found = Directory(organisations={}, contacts={}).prescribing("RBA", "RBA01")
    assert isinstance(found, list)
    assert [(i.code, i.location.column, i.value) for i in found] == [
        (NOT_CONFIGURED, "TrustODS", "RBA"),
        (NOT_CONFIGURED, "SiteCode", "RBA01"),
        (NOT_CONFIGURED, "TrustODS", "RBA"),
    ]
    assert "hgw organisations import" in found[0].message
    assert "hgw organisations contact --ods RBA" in found[2].message


def test_an_organisation_without_a_telephone_is_refused() -> None:
    rba = next(o for o in SAMPLE_ORGANISATIONS if o.ods == "RBA").model_copy(update={"telecom": None})
    directory = Directory(organisations={"RBA": rba}, contacts={"RBA": TeamContact(telecom="1", job_role="R8000")})
    found = directory.prescribing("RBA", None)
    assert isinstance(found, list) and [i.code for i in found] == [NOT_CONFIGURED]
    assert "no telephone" in found[0].message


def test_job_roles_are_read_in_either_sds_spelling() -> None:
    assert job_role_code("S8000:G8000:R8000") == job_role_code(" r8000 ") == "R8000"


def test_etr_csv_rows_are_read_and_bad_lines_located() -> None:
    parsed = parse_ods_file(ETR.encode("utf-8"), NOW)
    assert [r["ods"] for r in parsed.rows] == ["RBA", "RRE"]
    rba, rre = parsed.rows
    assert (rba["name"], rba["postcode"], rba["telecom"], rba["open_date"]) == (
        "TAUNTON AND SOMERSET NHS FOUNDATION TRUST",
        "TA1 5DA",
        "01823 333444",
        date(1991, 4, 1),
    )
    assert rba["address_lines"] == '["MUSGROVE PARK HOSPITAL", "PARKFIELD DRIVE", "TAUNTON"]'
    assert (rba["national_grouping"], rba["health_geography"]) == ("Y58", "QSL")
    assert (rre["telecom"], rre["close_date"]) == (None, date(2025, 3, 31))
    assert [(i.code, i.location.line, i.location.column) for i in parsed.issues] == [
        ("INVALID_ODS_CODE", 3, "1"),
        ("INVALID_DATE", 4, "11"),
        ("INVALID_ROW", 5, None),
    ]


def test_windows_1252_files_and_oversized_files() -> None:
    parsed = parse_ods_file("RBA,CAF\xc9 TRUST,Y58,QSL,,,,,,TA1 5DA,,\n".encode("cp1252"), NOW)
    assert parsed.rows[0]["name"] == "CAFÉ TRUST"
    huge = parse_ods_file(b"x" * 20_000_001, NOW)
    assert not huge.rows and huge.issues[0].code == "FILE_TOO_LARGE"


def test_what_is_not_an_ods_file_is_refused_not_raised() -> None:
    for junk in (b"\x00\x01,\x00", b'"' + b"x" * 200_000, b"RBA,NAME,Y58,QSL,,,,,,TA1 5DA-TOO-LONG-POSTCODE,,\n"):
        parsed = parse_ods_file(junk, NOW)
        assert not parsed.rows and parsed.issues
