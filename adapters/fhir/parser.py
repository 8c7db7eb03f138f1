"""The EPS FHIR adapter: one prescription-order or prescription-order-update message to one canonical prescription."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from adapters.base import ParsedPrescription, ParseResult
from adapters.fhir.bundle import read_message
from adapters.fhir.issues import Reader
from adapters.fhir.prescription import RX_VERSION, SOURCE_FORMAT, read_prescription
from gateway.errors import InputError
from gateway.fhir.serialise import loads_bundle


def _utc_now() -> datetime:
    return datetime.now(UTC)


def parse_bundle(bundle: dict[str, Any], *, now: datetime | None = None) -> ParsedPrescription:
    """The prescription in a parsed message Bundle, accepted or with every problem located by FHIRPath.

    `now` is when the message was received: "today" for the date-of-birth check, and the signing time of a
    message that gives none. The Bundle is only read, never changed (a prescriber's signature stays valid).
    """
    received = now or _utc_now()
    reader = Reader()
    message = read_message(bundle, reader)
    if message is None:
        return ParsedPrescription(rx_number="", rx_version=str(RX_VERSION), lines=[], issues=reader.issues)
    return read_prescription(reader, message, received)


class FhirAdapter:
    """Parses EPS-shaped FHIR prescription messages (JSON), as `POST /FHIR/R4/$process-message` receives them.

    One message is one prescription. A payload that is not a prescription-order or -update message Bundle is
    rejected as a whole (file_issues); otherwise its one ParsedPrescription carries the located issues.
    """

    name: str = SOURCE_FORMAT
    media_types: tuple[str, ...] = ("application/fhir+json",)

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock

    def parse(self, payload: bytes) -> ParseResult:
        result = ParseResult(format=self.name)
        try:
            bundle = loads_bundle(payload)
        except InputError as exc:
            result.file_issues = list(exc.issues)
            return result
        reader = Reader()
        if read_message(bundle, reader) is None:
            result.file_issues = reader.issues
            return result
        result.prescriptions = [parse_bundle(bundle, now=self._clock())]
        return result
