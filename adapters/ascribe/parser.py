"""The Ascribe adapter: an XML export to one ParsedPrescription per Prescription element, each accepted on its own.

Order of work: size, encoding and DOCTYPE checks, then lxml with resolvers off (document.py); the shipped XSD
(schema.py); then the checks the XSD cannot make, and the mapping to the canonical model (mapping.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from adapters.ascribe import issues as codes
from adapters.ascribe.document import Document, load
from adapters.ascribe.lexical import INTEGER_RE
from adapters.ascribe.mapping import SOURCE_FORMAT, read_prescription
from adapters.ascribe.nodes import PRESCRIPTION, ROOT_PATH, rank
from adapters.ascribe.reader import Checker, Element
from adapters.ascribe.schema import Findings, validate
from adapters.base import ParsedPrescription, ParseResult
from adapters.jac.fields import UK
from gateway.budget import checkpoint
from gateway.errors import Issue


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AscribeAdapter:
    """Parses Ascribe-style homecare XML exports (spec v2.0) into canonical prescriptions.

    `clock` gives the current time; dates of birth after today (in the UK) are refused.
    """

    name: str = SOURCE_FORMAT
    media_types: tuple[str, ...] = ("application/xml", "text/xml")

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock

    def parse(self, payload: bytes) -> ParseResult:
        result = ParseResult(format=self.name)
        document, result.file_issues = load(payload)
        if document is None:
            return result
        report = validate(document)
        trust_ods, result.file_issues = _read_root(document, report.root)
        if trust_ods is None or result.file_rejected:
            return result
        today = self._clock().astimezone(UK).date()
        first_seen: dict[tuple[str, str], tuple[int, int]] = {}
        for index in range(len(document.prescriptions)):
            checkpoint()
            parsed = _parse_one(document, index, report.prescriptions.get(index), trust_ods, today)
            key = (parsed.rx_number, _normal_version(parsed.rx_version))
            if key in first_seen:
                _reject_repeat(parsed, index, *first_seen[key])
            else:
                first_seen[key] = (index, parsed.lines[0])
            result.prescriptions.append(parsed)
        return result


def _read_root(document: Document, findings: Findings) -> tuple[str | None, list[Issue]]:
    """The trust's ODS code from the root, after checking the root's attributes."""
    c = Checker(None, document.line, findings)
    element = Element(document.root, ROOT_PATH, ROOT_PATH)
    c.datetime(element.attribute("generated"))
    c.text(element.attribute("system"))
    trust_ods = c.ods(element.attribute("trustOds"))
    return trust_ods, _sorted(c.issues)


def _parse_one(document: Document, index: int, findings: Findings | None, trust_ods: str,
               today: date) -> ParsedPrescription:
    element = document.prescriptions[index]
    rx_number = (element.get("id") or "").strip()
    c = Checker(rx_number or None, document.line, findings)
    prescription = read_prescription(Element(element, f"{PRESCRIPTION}[{index + 1}]", PRESCRIPTION), c, trust_ods,
                                     today)
    return ParsedPrescription(rx_number=rx_number, rx_version=(element.get("version") or "").strip(),
                              lines=[document.line(element)], prescription=prescription, issues=_sorted(c.issues))


def _reject_repeat(parsed: ParsedPrescription, index: int, first_index: int, first_line: int) -> None:
    """A second Prescription with the same id and version in one document: the later one is refused."""
    parsed.prescription = None
    parsed.issues.append(codes.located(
        codes.DUPLICATE_PRESCRIPTION, f"version {parsed.rx_version} of {parsed.rx_number} is already in this "
        f"document as {PRESCRIPTION}[{first_index + 1}] (line {first_line})", line=parsed.lines[0],
        path=f"{PRESCRIPTION}[{index + 1}]", value=f"{parsed.rx_number} version {parsed.rx_version}",
        expected="each id and version at most once per document", rx=parsed.rx_number or None))


def _normal_version(version: str) -> str:
    return str(int(version)) if INTEGER_RE.fullmatch(version) and len(version) <= 18 else version


def _sorted(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.location.line or 0, rank(i.location.path)))
