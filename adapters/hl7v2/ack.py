"""HL7 v2 acknowledgements: one ACK per message (AA, AE or AR), an ERR segment per issue, batches answered in kind.

`MSA-2` echoes the message's MSH-10. Each ERR names where the problem is twice over, for v2.4 and v2.5 readers:
ERR-1 (ELD: segment^sequence^field^code) and ERR-2 (ERL: segment^sequence^field^repetition^component), with the
HL7 table 0357 code in ERR-3, severity in ERR-4, the gateway's own code in ERR-5, value seen and expected in ERR-7
and the message in ERR-8.
"""

from __future__ import annotations

import re
import uuid
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from adapters.base import ParseResult
from adapters.hl7v2.issues import REJECTING_CODES, hl7_error_code
from adapters.hl7v2.parser import Hl7ParseResult, MessageHeader, read_headers
from adapters.hl7v2.payload import EnvelopeHeader
from adapters.hl7v2.writer import SegmentSpec, render_message
from adapters.jac.fields import UK
from gateway.errors import Issue


class Outcome(Protocol):
    """What the gateway made of one prescription (its `PrescriptionOutcome` fits)."""

    @property
    def outcome(self) -> str: ...  # accepted, duplicate, held or rejected

    @property
    def issues(self) -> Sequence[Issue]: ...

    @property
    def short_form_id(self) -> str | None: ...

    @property
    def message_id(self) -> str | None: ...


ACCEPTED_OUTCOMES = frozenset({"accepted", "duplicate", "held"})
APPLICATION = "HGW"
_TABLE_0357 = "HL70357"
_OUR_CODES = "HGW"
MAX_ERR_SEGMENTS = 100  # per ACK: the rest are counted in one last ERR, so an ACK stays bounded
_MSA_TEXT_MAX = 80  # MSA-3 is ST(80) in v2.4; the full story is in the ERR segments
_SEVERITY = {"fatal": "E", "error": "E", "warning": "W", "information": "I"}
_PATH_RE = re.compile(r"([A-Z][A-Z0-9]{2})(?:-([0-9]+)(?:\[([0-9]+)\])?(?:\.([0-9]+))?(?:\.([0-9]+))?)?")
# Where the gateway's own checks (made on the canonical model) are found in a message.
_CANONICAL_PATHS = {"TrustODS": "MSH-4.1", "RxNumber": "ORC-2.1", "RxVersion": "ZHC-7", "Action": "ORC-1"}


def _new_control_id() -> str:
    return uuid.uuid4().hex[:20].upper()


def build_acks(
    result: ParseResult,
    outcomes: Mapping[int, str | Outcome] | None = None,
    *,
    now: datetime | None = None,
    control_ids: Callable[[], str] = _new_control_id,
) -> list[str]:
    """One ACK per message of `result`, in order; `outcomes[i]` is the gateway's word on `result.prescriptions[i]`.

    Without an outcome a message is judged by its parse alone. A payload rejected as a whole answers every message
    found with AR (or, when no message could be found, one AR with a blank MSA-2).
    """
    stamp = _timestamp(now)
    headers = result.headers if isinstance(result, Hl7ParseResult) else []
    if result.file_rejected:
        return [_ack(header, "AR", "rejected: " + _first_error(result.file_issues), result.file_issues, stamp,
                     control_ids(), file_level=True) for header in headers or [MessageHeader()]]
    warnings = [i for i in result.file_issues if i.severity not in ("error", "fatal")]
    acks = []
    for index, parsed in enumerate(result.prescriptions):
        header = headers[index] if index < len(headers) else MessageHeader()
        given = (outcomes or {}).get(index)
        word = given if isinstance(given, str) else given.outcome if given else None
        issues = list(parsed.issues)
        if given is not None and not isinstance(given, str):
            known = set(parsed.issues)
            issues += [i for i in given.issues if i not in known]
        errors = [i for i in issues if i.severity in ("error", "fatal")]
        accepted = word in ACCEPTED_OUTCOMES if word else parsed.accepted and not errors
        if accepted:
            code, text = "AA", _accepted_text(word or "accepted", given)
        else:
            code = "AR" if any(i.code in REJECTING_CODES for i in errors) or not errors else "AE"
            text = f"rejected: {_first_error(errors)}" if errors else "rejected"
        acks.append(_ack(header, code, text, warnings + issues, stamp, control_ids()))
    return acks or [_ack(MessageHeader(), "AR", "rejected: the payload holds no message", result.file_issues,
                         stamp, control_ids(), file_level=True)]


def render_ack(
    result: ParseResult,
    outcomes: Mapping[int, str | Outcome] | None = None,
    *,
    now: datetime | None = None,
    control_ids: Callable[[], str] = _new_control_id,
) -> bytes:
    """The whole HL7 answer to a payload: one ACK, or a batch of ACKs (in FHS/BHS when the payload had them)."""
    now = now or datetime.now(UTC)
    acks = build_acks(result, outcomes, now=now, control_ids=control_ids)
    stamp = _timestamp(now)
    file_header = result.file_header if isinstance(result, Hl7ParseResult) else None
    batches = result.batches if isinstance(result, Hl7ParseResult) and result.headers else []
    if len(acks) == 1 and file_header is None and all(header is None for header, _ in batches):
        return acks[0].encode("utf-8")
    if sum(count for _, count in batches) != len(acks):
        batches = [(None, len(acks))]
    out: list[str] = []
    if file_header is not None:
        out.append(render_message([("FHS", _envelope(file_header, stamp, control_ids()))]))
    position = 0
    for header, count in batches:
        out.append(render_message([("BHS", _envelope(header or EnvelopeHeader(), stamp, control_ids()))]))
        out.extend(acks[position:position + count])
        out.append(render_message([("BTS", {1: str(count)})]))
        position += count
    if file_header is not None:
        out.append(render_message([("FTS", {1: str(len(batches))})]))
    return "".join(out).encode("utf-8")


def _ack(header: MessageHeader, code: str, text: str, issues: Sequence[Issue], stamp: str, control_id: str, *,
         file_level: bool = False) -> str:
    segments: list[SegmentSpec] = [
        ("MSH", {3: header.receiving_application or APPLICATION, 4: header.receiving_facility or APPLICATION,
                 5: header.sending_application, 6: header.sending_facility, 7: stamp,
                 9: ("ACK", header.trigger or "O11", "ACK"), 10: control_id, 11: header.processing_id or "P",
                 12: header.version or "2.5"}),
        ("MSA", {1: code, 2: header.control_id, 3: text[:_MSA_TEXT_MAX]}),
    ]
    places = _Places(() if file_level else header.segment_ids)
    segments += [("ERR", _err(issue, places)) for issue in issues[:MAX_ERR_SEGMENTS]]
    if len(issues) > MAX_ERR_SEGMENTS:
        more = len(issues) - MAX_ERR_SEGMENTS
        segments.append(("ERR", _err(Issue("MORE_ISSUES", f"{more} more issues are not listed", severity="warning",
                                           expected=f"at most {MAX_ERR_SEGMENTS} ERR segments per ACK"), places)))
    return render_message(segments)


class _Places:
    """Where each segment id occurs in a message, read once: an ERR's sequence number costs a bisection, not a count
    of the segments before it (which made an ACK for a message of many issues quadratic)."""

    def __init__(self, segment_ids: tuple[str, ...]) -> None:
        self.segment_ids = segment_ids
        self.positions: dict[str, list[int]] = {}
        for number, segment_id in enumerate(segment_ids, 1):
            self.positions.setdefault(segment_id, []).append(number)

    def sequence(self, segment: str, line: int | None) -> str:
        """Which occurrence of `segment` in the message the issue is about (its line is the segment's number)."""
        positions = self.positions.get(segment, [])
        if line is None or not 0 < line <= len(self.segment_ids):
            return "1" if positions else ""
        count = bisect_right(positions, line)
        return str(count if self.segment_ids[line - 1] == segment else count + 1)


def _err(issue: Issue, places: _Places) -> dict[int, str | tuple[str, ...]]:
    path = issue.location.path or _CANONICAL_PATHS.get(issue.location.column or "")
    m = _PATH_RE.fullmatch(path or "")
    segment, field, repetition, component, subcomponent = m.groups() if m else ("", None, None, None, None)
    sequence = places.sequence(segment, issue.location.line) if segment else ""
    repetition = repetition or ("1" if component else "")
    hl7_code, hl7_text = hl7_error_code(issue.code)
    seen_expected = [f"value seen: {issue.value}" if issue.value is not None else "",
                     f"expected: {issue.expected}" if issue.expected else ""]
    return {
        1: (segment, sequence, field or "", hl7_code),
        2: (segment, sequence, field or "", repetition, component or "", subcomponent or ""),
        3: (hl7_code, hl7_text, _TABLE_0357),
        4: _SEVERITY[issue.severity],
        5: (issue.code, "", _OUR_CODES),
        7: "; ".join(part for part in seen_expected if part),
        8: issue.message,
    }


def _accepted_text(word: str, given: str | Outcome | None) -> str:
    ids = [] if given is None or isinstance(given, str) else [
        f"{label} {value}" for label, value in (("short-form id", given.short_form_id),
                                                ("message id", given.message_id)) if value]
    return "; ".join([word, *ids])


def _first_error(issues: Sequence[Issue]) -> str:
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if not errors:
        return "no error reported"
    return errors[0].message + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")


def _envelope(header: EnvelopeHeader, stamp: str, control_id: str) -> dict[int, str | tuple[str, ...]]:
    return {3: header.receiving_application or APPLICATION, 4: header.receiving_facility or APPLICATION,
            5: header.sending_application, 6: header.sending_facility, 7: stamp, 11: control_id,
            12: header.control_id}


def _timestamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UK).strftime("%Y%m%d%H%M%S%z")


def reject_payload(
    payload: bytes,
    issue: Issue,
    *,
    now: datetime | None = None,
    control_ids: Callable[[], str] = _new_control_id,
) -> bytes:
    """AR, naming `issue`, for every message whose MSH can be read in `payload` (which may be cut short)."""
    result = read_headers(payload)
    result.file_issues = [issue]
    return render_ack(result, now=now, control_ids=control_ids)
