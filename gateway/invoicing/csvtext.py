"""Reading a small CSV document: bounded size, UTF-8, a header naming the columns, every problem located."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from gateway.errors import InputError, Issue, Location

MAX_CSV_BYTES: Final = 5 * 1024 * 1024
MAX_ROWS: Final = 50_000


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its 1-based line in the file and its cells by column name."""

    line: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "").strip()


def read_rows(payload: bytes, required: Sequence[str], optional: Sequence[str] = ()) -> list[Row]:
    """The rows of `payload`; InputError (line 1) for a file whose header lacks a required column or names an
    unknown one, and for a file too large, not UTF-8, or with rows of the wrong width."""
    if len(payload) > MAX_CSV_BYTES:
        raise InputError([Issue("PAYLOAD_TOO_LARGE", f"more than {MAX_CSV_BYTES} bytes", Location(line=1))])
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([Issue("INVALID_ENCODING", f"not UTF-8: {exc.reason}", Location(line=1))]) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise InputError([Issue("EMPTY_FILE", "the file has no header row", Location(line=1))]) from exc
    issues = [
        Issue("MISSING_COLUMN", f"the header has no {name!r} column", Location(line=1, column=name), expected=name)
        for name in required
        if name not in header
    ]
    known = set(required) | set(optional)
    issues += [
        Issue("UNKNOWN_COLUMN", f"unknown column {name!r}", Location(line=1, column=name), value=name[:60])
        for name in header
        if name not in known
    ]
    if issues:
        raise InputError(issues)
    return list(_rows(reader, header))


def _rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[Row]:
    line = 1
    issues: list[Issue] = []
    rows: list[Row] = []
    try:
        for cells in reader:
            line += 1
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise InputError([Issue("TOO_MANY_ROWS", f"more than {MAX_ROWS} rows", Location(line=line))])
            if len(cells) != len(header):
                issues.append(
                    Issue(
                        "WRONG_FIELD_COUNT",
                        f"{len(cells)} fields where the header has {len(header)}",
                        Location(line=line),
                        expected=str(len(header)),
                    )
                )
                continue
            rows.append(Row(line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        issues.append(Issue("INVALID_CSV", f"unreadable CSV: {exc}", Location(line=line + 1)))
    if issues:
        raise InputError(issues)
    yield from rows


def cell_issue(row: Row, column: str, code: str, message: str, expected: str) -> Issue:
    """A located problem with one cell (its value shown, cut short)."""
    return Issue(code, message, Location(line=row.line, column=column), value=row.get(column)[:80], expected=expected)
