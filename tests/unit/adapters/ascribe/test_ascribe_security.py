"""The malicious corpus: each document is refused as a whole with one precise, located error, and nothing leaks.

The files under tests/data/ascribe/malicious_* are checked as golden files too; these tests add what cannot be
a file (sizes), and check that nothing was resolved, fetched or expanded.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from adapters.ascribe import AscribeAdapter
from adapters.base import ParseResult

DATA = Path(__file__).parents[3] / "data" / "ascribe"
HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<HomecareExport xmlns="urn:ascribe:homecare:export:2" '
        b'generated="2026-11-21T14:10:00+00:00" system="Ascribe 9.4" trustOds="RTH">\n')


def example() -> bytes:
    return (DATA / "valid_spec_example" / "input.xml").read_bytes()


def refused(result: ParseResult) -> tuple[str, int | None]:
    """The one file-level error, as (code, line)."""
    assert result.prescriptions == []
    (issue,) = result.file_issues
    assert issue.severity == "error" and issue.expected and issue.message
    return issue.code, issue.location.line


@pytest.mark.parametrize(("case", "line"), [
    ("malicious_xxe_external_entity", 2),
    ("malicious_xxe_parameter_entity", 3),  # after a comment in the prolog
    ("malicious_billion_laughs", 2),
])
def test_any_doctype_is_refused_before_lxml_reads_it(ascribe: AscribeAdapter, case: str, line: int) -> None:
    result = ascribe.parse((DATA / case / "input.xml").read_bytes())

    assert refused(result) == ("DOCTYPE_FORBIDDEN", line)
    assert result.file_issues[0].value is not None and result.file_issues[0].value.startswith("<!DOCTYPE")


@pytest.mark.parametrize("doctype", [
    b'<!DOCTYPE HomecareExport SYSTEM "http://127.0.0.1:9/export.dtd">',
    b'<!DOCTYPE HomecareExport PUBLIC "-//X//DTD X//EN" "file:///etc/passwd">',
    b"<!doctype HomecareExport>",
    b"<!DOCTYPE HomecareExport []>",
])
def test_external_and_empty_doctypes_are_refused_too(ascribe: AscribeAdapter, doctype: bytes) -> None:
    payload = example().replace(b"?>\n", b"?>\n" + doctype + b"\n", 1)

    started = time.monotonic()
    result = ascribe.parse(payload)

    assert refused(result) == ("DOCTYPE_FORBIDDEN", 2)
    assert time.monotonic() - started < 5  # nothing was fetched: there is no waiting on a network


def test_entities_are_never_expanded(ascribe: AscribeAdapter) -> None:
    # Without a DTD, a named entity other than the five of XML is not defined: the document is not well-formed.
    result = ascribe.parse(example().replace(b"O'Neill", b"&xxe;"))

    assert refused(result) == ("NOT_WELL_FORMED", 7)
    assert "Entity 'xxe' not defined" in result.file_issues[0].message


def test_xinclude_is_never_processed(ascribe: AscribeAdapter) -> None:
    result = ascribe.parse((DATA / "malicious_xinclude" / "input.xml").read_bytes())

    (parsed,) = result.prescriptions
    assert [(i.code, i.location.line, i.location.path) for i in parsed.issues] == [
        ("UNEXPECTED_ELEMENT", 21, "Prescription[1]/Items/Item[1]/include")]
    assert "root:" not in repr(result)  # /etc/passwd was not read into anything


def test_deep_nesting_is_refused(ascribe: AscribeAdapter) -> None:
    assert refused(ascribe.parse((DATA / "malicious_deep_nesting" / "input.xml").read_bytes())) == (
        "RESOURCE_LIMIT", 3)


@pytest.mark.parametrize(("payload", "expected"), [
    (HEAD + b"<Prescription><Route>" + b"x" * 10_000_001 + b"</Route></Prescription></HomecareExport>",
     ("RESOURCE_LIMIT", 3)),
    (HEAD.replace(b'system="Ascribe 9.4"', b'system="' + b"x" * 10_000_001 + b'"') + b"</HomecareExport>",
     ("RESOURCE_LIMIT", 2)),
    (HEAD + b"<Prescription " + b" ".join(b'a%d="1"' % i for i in range(17)) + b"/></HomecareExport>",
     ("RESOURCE_LIMIT", 3)),
    (HEAD + b"<Prescription><Patient>" + b"<Telecom/>" * 1001 + b"</Patient></Prescription></HomecareExport>",
     ("RESOURCE_LIMIT", 3)),
    (HEAD + b"<Foo/>" * 1001 + b"</HomecareExport>", ("RESOURCE_LIMIT", 2)),
], ids=["huge text node", "huge attribute", "attribute flood", "child flood", "root child flood"])
def test_floods_are_refused_before_the_schema_sees_them(ascribe: AscribeAdapter, payload: bytes,
                                                       expected: tuple[str, int]) -> None:
    assert refused(ascribe.parse(payload)) == expected


def test_the_size_limit_is_enforced_before_parsing(ascribe: AscribeAdapter) -> None:
    payload = example() + b" " * (20 * 1024 * 1024)

    result = ascribe.parse(payload)

    assert refused(result) == ("TOO_LARGE", None)
    assert result.file_issues[0].value == str(len(payload))


@pytest.mark.parametrize(("payload", "expected"), [
    (example().replace("Tomás".encode(), "Tomás".encode("latin-1")), ("INVALID_ENCODING", 7)),
    (example().replace(b'encoding="UTF-8"', b'encoding="windows-1252"'), ("INVALID_ENCODING", 1)),
    (example().replace(b'encoding="UTF-8"', b'encoding="US-ASCII"'), ("INVALID_ENCODING", 1)),
    (example().decode().encode("utf-16"), ("INVALID_ENCODING", 1)),
    (example().decode().encode("utf-16-be"), ("INVALID_ENCODING", 1)),
    (example().decode().encode("utf-32"), ("INVALID_ENCODING", 1)),
    (b"\xef\xbb\xbf" + example().replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'), ("INVALID_ENCODING", 1)),
    (example().replace(b"O'Neill", b"O\x00Neill"), ("NOT_WELL_FORMED", 7)),
    (example().replace(b"O'Neill", b"O\x1bNeill"), ("NOT_WELL_FORMED", 7)),
], ids=["latin-1 bytes in UTF-8", "windows-1252", "US-ASCII", "UTF-16 with BOM", "UTF-16 without BOM", "UTF-32",
        "BOM and ISO-8859-1", "NUL byte", "control character"])
def test_bad_encodings_are_refused_with_their_line(ascribe: AscribeAdapter, payload: bytes,
                                                   expected: tuple[str, int]) -> None:
    assert refused(ascribe.parse(payload)) == expected


@pytest.mark.parametrize(("payload", "expected"), [
    (b"", ("NOT_WELL_FORMED", 1)),
    (b"   \n", ("NOT_WELL_FORMED", 2)),
    (b"Action,TrustODS\r\nNEW,RHM\r\n", ("NOT_WELL_FORMED", 1)),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ("INVALID_ENCODING", 2)),
    (b'{"resourceType": "Bundle"}', ("NOT_WELL_FORMED", 1)),
    (example()[:-30], ("NOT_WELL_FORMED", 26)),
    (example() + b"<HomecareExport/>", ("NOT_WELL_FORMED", 28)),
    (b'<HomecareExport xmlns="urn:ascribe:homecare:export:1"/>', ("WRONG_ROOT", 1)),
    (b"<Bundle xmlns='http://hl7.org/fhir'/>", ("WRONG_ROOT", 1)),
    (HEAD + b"</HomecareExport>", ("NO_PRESCRIPTIONS", 2)),
])
def test_what_is_not_an_export_is_refused_as_a_whole(ascribe: AscribeAdapter, payload: bytes,
                                                     expected: tuple[str, int]) -> None:
    assert refused(ascribe.parse(payload)) == expected
