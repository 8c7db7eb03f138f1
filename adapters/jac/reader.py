"""Bytes to located CSV records: encoding, the not-CSV checks, RFC 4180 reading and header resolution."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from adapters.jac import issues as codes
from adapters.jac.columns import COLUMN_NAMES, MANDATORY_COLUMNS, canonical_name
from gateway.errors import Issue

UTF8_BOM = b"\xef\xbb\xbf"
# C0 controls other than tab, LF and CR, and DEL: text exports never contain them, binary files almost always do.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_CSV_STARTS = {"<": "XML or HTML", "{": "JSON", "[": "JSON", "%PDF": "PDF", "MSH|": "HL7 v2"}


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record and the physical file line it starts on."""

    line: int
    cells: list[str]


@dataclass(slots=True)
class Table:
    """A JAC export whose header is usable: where each known column stands, and the data records."""

    header_line: int
    width: int
    positions: dict[str, int]
    records: list[Record] = field(default_factory=list)
    _keys: list[str] = field(init=False)
    _absent: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        # Unknown columns get keys no spec column can have, so a whole record maps in one C-level zip.
        names = {i: name for name, i in self.positions.items()}
        self._keys = [names.get(i, f"\0{i}") for i in range(self.width)]
        self._absent = {name: "" for name in COLUMN_NAMES if name not in self.positions}

    def values(self, record: Record) -> dict[str, str]:
        """The stripped value of every spec column for one record; columns absent from the header read as blank."""
        cells = record.cells
        if len(cells) < self.width:
            cells = cells + [""] * (self.width - len(cells))
        out = dict(zip(self._keys, map(str.strip, cells), strict=False))
        out.update(self._absent)
        return out


def read_table(payload: bytes) -> tuple[Table | None, list[Issue]]:
    """The header and records of a payload, or None and the one error that rejects the whole file."""
    file_issues: list[Issue] = []
    text = _decode(payload, file_issues)
    if text is None:
        return None, file_issues
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    table: Table | None = None
    consumed = 0
    try:
        for cells in reader:
            start, consumed = consumed + 1, reader.line_num
            if not "".join(cells).strip():
                continue  # blank lines, and lines of bare separators, carry nothing
            if table is None:
                table = _resolve_header(cells, start, file_issues)
                if table is None:
                    return None, file_issues
            else:
                table.records.append(Record(start, cells))
    except csv.Error as exc:
        # A record that cannot be read cannot be attributed to a prescription, so no prescription is safe to accept.
        file_issues.append(codes.issue(
            codes.MALFORMED_CSV, f"line {consumed + 1} is not valid RFC 4180 CSV: {exc}", line=consumed + 1,
            expected="fields separated by commas; quoted fields closed, with any \" inside doubled"))
        return None, file_issues
    if table is None:
        file_issues.append(codes.issue(codes.NO_HEADER, "the file is empty: no header line and no rows",
                                            line=1, expected="a header line naming the JAC columns"))
        return None, file_issues
    if not table.records:
        file_issues.append(codes.issue(codes.NO_PRESCRIPTIONS, "the file has a header but no prescription rows",
                                            severity="warning"))
    return table, file_issues


def _decode(payload: bytes, file_issues: list[Issue]) -> str | None:
    if b"\x00" in payload:
        file_issues.append(_not_csv("the payload contains NUL bytes: it is binary (or UTF-16), not a CSV text file"))
        return None
    encoding = "utf-8" if payload.startswith(UTF8_BOM) else "cp1252"
    body = payload[len(UTF8_BOM):] if encoding == "utf-8" else payload
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8 (the file starts with a UTF-8 byte-order mark)" if encoding == "utf-8" else "Windows-1252"
        offset = exc.start + len(payload) - len(body)
        file_issues.append(codes.issue(
            codes.INVALID_ENCODING, f"byte {offset} (0x{body[exc.start]:02X}) is not valid {name}",
            value=f"0x{body[exc.start]:02X}", expected=f"{name} text"))
        return None
    text = text.removesuffix("\x1a")  # the DOS end-of-file mark some old exporters still append
    control = _CONTROL_RE.search(text)
    if control:
        line = text.count("\n", 0, control.start()) + 1
        file_issues.append(_not_csv(f"line {line} contains the control character U+{ord(control.group()):04X}: "
                                    "the payload is binary, not a CSV text file", line=line))
        return None
    head = text.lstrip()
    for start, kind in _NOT_CSV_STARTS.items():
        if head.startswith(start):
            file_issues.append(_not_csv(f"the payload looks like {kind}, not a CSV file", value=head[:40]))
            return None
    if encoding == "cp1252" and not payload.isascii() and _is_utf8(payload):
        file_issues.append(codes.issue(
            codes.POSSIBLE_UTF8_WITHOUT_BOM,
            "the file has no byte-order mark so it was read as Windows-1252, but it is valid UTF-8: "
            "names with accents may be garbled; a UTF-8 export must start with a byte-order mark",
            severity="warning", expected="a UTF-8 byte-order mark on UTF-8 files"))
    return text


def _is_utf8(payload: bytes) -> bool:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _not_csv(message: str, *, line: int | None = None, value: str | None = None) -> Issue:
    return codes.issue(codes.NOT_CSV, message, line=line, value=value,
                            expected="a JAC homecare export: CSV text with a header line of column names")


def _resolve_header(cells: list[str], line: int, file_issues: list[Issue]) -> Table | None:
    positions: dict[str, int] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    for i, cell in enumerate(cells):
        name = canonical_name(cell)
        if name is None:
            unknown.append(cell.strip() or f"(unnamed column {i + 1})")
        elif name in positions:
            duplicates.append(name)
        else:
            positions[name] = i
    if not positions:
        file_issues.append(codes.issue(
            codes.NO_HEADER, f"line {line} is not a JAC header: none of its names is a JAC column", line=line,
            value=",".join(cells)[:200], expected="a header line naming the JAC columns (Action, TrustODS, ...)"))
        return None
    if duplicates:
        file_issues.append(codes.issue(
            codes.DUPLICATE_COLUMN, f"the header names {', '.join(duplicates)} more than once", line=line,
            column=", ".join(duplicates), expected="each column at most once"))
        return None
    missing = [name for name in MANDATORY_COLUMNS if name not in positions]
    if missing:
        file_issues.append(codes.issue(
            codes.MISSING_COLUMN, f"the header lacks the mandatory column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}", line=line, column=", ".join(missing), expected=", ".join(missing)))
        return None
    if unknown:
        file_issues.append(codes.issue(
            codes.UNKNOWN_COLUMN, f"unknown column{'s' if len(unknown) > 1 else ''} ignored: {', '.join(unknown)}",
            line=line, column=", ".join(unknown), severity="warning", value=", ".join(unknown),
            expected="the columns of the JAC export specification v1.2"))
    return Table(header_line=line, width=len(cells), positions=positions)
