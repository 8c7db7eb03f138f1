"""Reading an NHS ODS organisation file in the standard `etr.csv` layout (no header row, one organisation a line).

Columns used (1-based, as NHS ODS documents the layout): 1 organisation code, 2 name, 3 national grouping,
4 high level health geography, 5–9 address lines 1–5, 10 postcode, 11 open date and 12 close date (CCYYMMDD),
18 contact telephone number. The other columns are null in `etr.csv` and are not read.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from gateway.domain.identifiers import is_valid_ods_code
from gateway.errors import Issue, Location

MAX_BYTES: Final = 20_000_000  # the whole ODS trust file is well under 1 MB
MAX_ROWS: Final = 100_000
CODE, NAME, NATIONAL_GROUPING, HEALTH_GEOGRAPHY = 0, 1, 2, 3
ADDRESS = slice(4, 9)
POSTCODE, OPEN_DATE, CLOSE_DATE, TELEPHONE = 9, 10, 11, 17
MIN_COLUMNS: Final = 12


@dataclass
class OdsFile:
    rows: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def _date(text: str, line: int, column: int, issues: list[Issue]) -> date | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        where = Location(line=line, column=str(column + 1))
        issues.append(Issue("INVALID_DATE", "not a CCYYMMDD date", where, value=text, expected="CCYYMMDD"))
        return None


def parse_ods_file(payload: bytes, now: datetime) -> OdsFile:
    """Every organisation of the file as an `organisation` row, and a located issue per unusable line."""
    out = OdsFile()
    if len(payload) > MAX_BYTES:
        out.issues.append(Issue("FILE_TOO_LARGE", f"the file is over {MAX_BYTES} bytes", Location()))
        return out
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = payload.decode("cp1252", errors="replace")  # older ODS files are Windows-1252
    try:
        _read_rows(text, out, now)
    except csv.Error as exc:  # NUL bytes, a field past the csv module's limit: not an ODS file
        out.issues.append(Issue("INVALID_FILE", f"not a CSV file: {exc}", Location(), expected="the etr.csv layout"))
    return out


def _read_rows(text: str, out: OdsFile, now: datetime) -> None:
    for line, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        if line > MAX_ROWS:
            out.issues.append(Issue("FILE_TOO_LARGE", f"more than {MAX_ROWS} organisations", Location(line=line)))
            break
        if not any(c.strip() for c in cells):
            continue
        cells = [c.strip() for c in cells]
        if len(cells) < MIN_COLUMNS:
            out.issues.append(
                Issue(
                    "INVALID_ROW",
                    f"{len(cells)} columns; the etr.csv layout has 27",
                    Location(line=line),
                    expected="code, name, national grouping, geography, 5 address lines, postcode, open and close",
                )
            )
            continue
        code = cells[CODE].upper()
        if not is_valid_ods_code(code):
            out.issues.append(Issue("INVALID_ODS_CODE", "not an ODS code", Location(line=line, column="1"), value=code))
            continue
        before = len(out.issues)
        opened = _date(cells[OPEN_DATE], line, OPEN_DATE, out.issues)
        closed = _date(cells[CLOSE_DATE], line, CLOSE_DATE, out.issues)
        if not cells[NAME] or len(cells[NAME]) > 200:
            out.issues.append(Issue("INVALID_VALUE", "an organisation needs a name", Location(line=line, column="2")))
        phone = cells[TELEPHONE] if len(cells) > TELEPHONE else ""
        for column, limit in ((NATIONAL_GROUPING, 12), (HEALTH_GEOGRAPHY, 12), (POSTCODE, 12), (TELEPHONE, 40)):
            value = phone if column == TELEPHONE else cells[column]
            if len(value) > limit:
                where = Location(line=line, column=str(column + 1))
                out.issues.append(Issue("INVALID_VALUE", f"longer than {limit} characters", where, value=value[:60]))
        if len(out.issues) > before:
            continue
        out.rows.append(
            {
                "ods": code,
                "name": cells[NAME],
                "address_lines": json.dumps([c for c in cells[ADDRESS] if c]),
                "postcode": cells[POSTCODE],
                "telecom": phone or None,
                "national_grouping": cells[NATIONAL_GROUPING] or None,
                "health_geography": cells[HEALTH_GEOGRAPHY] or None,
                "open_date": opened,
                "close_date": closed,
                "source": "etr.csv",
                "updated_at": now,
            }
        )
