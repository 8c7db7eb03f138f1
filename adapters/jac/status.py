"""A page of the status feed as a JAC-style status CSV: the gateway's answer file, in the export's own conventions.

RFC 4180 quoting, CRLF line ends, a header line, UTF-8 with a byte-order mark (as `writer.render_export`), one
row per event in event order. Dates as the export writes them (`dd/mm/yyyy`, UK local time) with seconds, and
the same instant again in UTC (ISO 8601) for machines. A cell that a spreadsheet would run as a formula
(leading `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`: provider text reaches trust desktops.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from gateway.lifecycle.status_feed import FeedPage, StatusEvent

MEDIA_TYPE = "text/csv; charset=utf-8; header=present"

STATUS_COLUMNS = (
    "EventId",
    "EventTime",
    "EventTimeUTC",
    "TrustODS",
    "RxNumber",
    "RxVersion",
    "ShortFormId",
    "Event",
    "StatusCode",
    "StatusText",
    "DeliveryState",
    "ProviderODS",
    "ActorODS",
    "MessageId",
    "Detail",
)

_UK = ZoneInfo("Europe/London")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def render_jac_status(page: FeedPage) -> bytes:
    """The status CSV of `page`: the header alone when the page is empty."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(STATUS_COLUMNS)
    writer.writerows(status_row(event) for event in page.events)
    return out.getvalue().encode("utf-8-sig")


def status_row(event: StatusEvent) -> list[str]:
    """One event's cells, in STATUS_COLUMNS order; absent values are empty cells."""
    cells = (
        str(event.event_id),
        event.at.astimezone(_UK).strftime("%d/%m/%Y %H:%M:%S"),
        event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        event.trust_ods,
        event.rx_number,
        str(event.rx_version),
        event.short_form_id,
        event.kind,
        event.status_code,
        event.status_display,
        event.delivery_state,
        event.provider_ods,
        event.actor_ods,
        event.message_id,
        event.detail,
    )
    return [_defuse(cell or "") for cell in cells]


def _defuse(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell
