"""The JAC adapter: a whole export to one ParsedPrescription per (RxNumber, RxVersion), each accepted on its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from operator import itemgetter

from adapters.base import ParsedPrescription, ParseResult
from adapters.jac import issues as codes
from adapters.jac.columns import COLUMN_NAMES, PRESCRIPTION_COLUMNS
from adapters.jac.fields import UK, RowReader
from adapters.jac.reader import Record, read_table
from adapters.jac.rows import SOURCE_FORMAT, Data, has_item, read_item, read_prescription
from gateway.budget import checkpoint
from gateway.errors import Issue

Row = tuple[Record, dict[str, str]]
MAX_PRESCRIPTIONS = 5_000  # spec v1.2 "size": a file may hold up to 5,000 prescriptions (as Ascribe and HL7 v2)
_COLUMN_ORDER = {name: i for i, name in enumerate(COLUMN_NAMES)}
_prescription_values = itemgetter(*PRESCRIPTION_COLUMNS)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JacAdapter:
    """Parses JAC-style homecare CSV exports (spec v1.2) into canonical prescriptions.

    `clock` gives the current time; dates of birth after today (in the UK) are refused.
    """

    name: str = SOURCE_FORMAT
    media_types: tuple[str, ...] = ("text/csv", "application/csv")

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock

    def parse(self, payload: bytes) -> ParseResult:
        result = ParseResult(format=self.name)
        table, result.file_issues = read_table(payload)
        if table is None:
            return result
        today = self._clock().astimezone(UK).date()
        groups: dict[tuple[str, str], list[Row]] = {}
        for record in table.records:
            checkpoint()
            values = table.values(record)
            groups.setdefault((values["RxNumber"], values["RxVersion"]), []).append((record, values))
            if len(groups) > MAX_PRESCRIPTIONS:  # refused before any row is checked: the file is over budget
                result.file_issues.append(_too_many(record.line))
                return result
        table.records.clear()  # each record is in its group now
        # Each group's rows are dropped once its prescription is read: the file's rows and its prescriptions are
        # never all alive at once (a 5,000-prescription export peaked 25 MB higher that way).
        for rx_number, rx_version in list(groups):
            rows = groups.pop((rx_number, rx_version))
            result.prescriptions.append(_parse_group(rx_number, rx_version, rows, table.width, today))
        return result


def _too_many(line: int) -> Issue:
    return codes.issue(
        codes.TOO_MANY_PRESCRIPTIONS,
        f"line {line} starts prescription {MAX_PRESCRIPTIONS + 1:,}: a file may hold at most {MAX_PRESCRIPTIONS:,}",
        line=line,
        value=f"more than {MAX_PRESCRIPTIONS:,}",
        expected=f"1 to {MAX_PRESCRIPTIONS:,} prescriptions (RxNumber and RxVersion) per file; split the export",
    )


def _parse_group(rx_number: str, rx_version: str, rows: list[Row], width: int, today: date) -> ParsedPrescription:
    checkpoint()
    issues: list[Issue] = []
    aligned = _aligned(rows, width, issues)
    prescription = None
    if aligned:
        _check_agreement(aligned, issues)
        items = _read_items(aligned, issues)
        first_record, first_values = aligned[0]
        prescription = read_prescription(RowReader(first_values, first_record.line, issues), today, items)
    issues.sort(key=lambda i: (i.location.line or 0, _COLUMN_ORDER.get(i.location.column or "", -1)))
    return ParsedPrescription(rx_number=rx_number, rx_version=rx_version, lines=[record.line for record, _ in rows],
                              prescription=prescription, issues=issues)


def _aligned(rows: list[Row], width: int, issues: list[Issue]) -> list[Row]:
    """The rows with as many fields as the header; the others' values stand under the wrong columns.

    A misaligned row is reported once, and its cells are not checked: errors about values under the wrong
    column would only bury the real one.
    """
    aligned: list[Row] = []
    for record, values in rows:
        if len(record.cells) == width:
            aligned.append((record, values))
            continue
        issues.append(codes.issue(
            codes.WRONG_FIELD_COUNT, f"line {record.line} has {len(record.cells)} fields but the header has "
            f"{width}: its values cannot be matched to columns", line=record.line,
            value=str(len(record.cells)), expected=f"{width} fields, as in the header"))
    return aligned


def _check_agreement(rows: list[Row], issues: list[Issue]) -> None:
    """Prescription columns are repeated on every item row and must agree with the first row."""
    first_record, first = rows[0]
    reference = _prescription_values(first)
    for record, values in rows[1:]:
        if _prescription_values(values) == reference:
            continue
        for column in PRESCRIPTION_COLUMNS:
            if values[column] != first[column]:
                issues.append(codes.field_issue(
                    codes.INCONSISTENT_VALUE, record.line, column, values[column], first[column],
                    f"line {record.line}, {column}: '{values[column]}' disagrees with '{first[column]}' on line "
                    f"{first_record.line}; every row of a prescription must repeat the same {column}"))


def _read_items(rows: list[Row], issues: list[Issue]) -> list[Data] | None:
    """The items in LineNo order, or None when any is wrong."""
    cancel = rows[0][1]["Action"] == "CANCEL"
    items: list[tuple[int, Data]] = []
    failed = False
    seen: dict[int, int] = {}
    for record, values in rows:
        if cancel and not has_item(values):
            continue
        item = read_item(RowReader(values, record.line, issues))
        if item is None:
            failed = True
            continue
        line_no = int(values["LineNo"])
        if line_no in seen:
            failed = True
            issues.append(codes.field_issue(
                codes.DUPLICATE_LINE_NO, record.line, "LineNo", values["LineNo"],
                f"a LineNo not already used in this prescription (line {seen[line_no]} has {line_no})",
                f"line {record.line}, LineNo: {line_no} is already used on line {seen[line_no]}"))
            continue
        seen[line_no] = record.line
        items.append((line_no, item))
    if failed:
        return None
    return [item for _, item in sorted(items, key=lambda pair: pair[0])]

