"""Rows to a JAC export file: what the demo, the benchmark and the tests feed the adapter."""

from __future__ import annotations

import csv
import io

from adapters.jac.columns import COLUMN_NAMES


def render_export(rows: list[dict[str, str]], columns: list[str] | None = None) -> bytes:
    """A JAC CSV (UTF-8 with byte-order mark, CRLF, RFC 4180 quoting) of `rows` keyed by the spec's column names.

    `columns` fixes the header and its order; by default every spec column in spec order, then any other key
    the rows use, in the order first seen. A row key outside explicit `columns` raises ValueError.
    """
    if columns is None:
        extra = dict.fromkeys(key for row in rows for key in row if key not in COLUMN_NAMES)
        columns = [*COLUMN_NAMES, *extra]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, restval="", extrasaction="raise", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")
