"""Status back to an HL7 v2 trust: the status feed as a batch of OSU^O51 (order status update) messages.

One message per feed event: MSH, then ORC with ORC-1 `SC` (status changed), ORC-2 the placer order (the
trust's RxNumber, in its RxNumber-line form's prescription part, with the trust ODS as assigner), ORC-3 the
filler order (the EPS short-form id, assigned by `HGW`), ORC-5 the order status (HL7 table 0038, mapped from
the EPS status), ORC-9 the event time; then an NTE with the gateway's event kind, EPS status code and detail.
The batch (BHS ... BTS) carries the next cursor in BHS-10 (batch comment) so a poller resumes from it.
No patient data is sent: the trust knows its patient by its own order number.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from adapters.hl7v2.writer import render_batch, render_message

if TYPE_CHECKING:
    from gateway.lifecycle.status_feed import FeedPage

MEDIA_TYPE = "x-application/hl7-v2+er7"

# EPS prescription status → HL7 table 0038 order status.
ORDER_STATUS = {
    "0001": "SC",  # to be dispensed: scheduled
    "0002": "IP",  # with dispenser: in process
    "0003": "IP",  # with dispenser - active
    "0004": "DC",  # expired: discontinued
    "0005": "CA",  # cancelled
    "0006": "CM",  # dispensed: completed
    "0007": "DC",  # not dispensed
}


def _hl7_time(value: datetime) -> str:
    return value.strftime("%Y%m%d%H%M%S%z")


def render_hl7_status(page: FeedPage) -> bytes:
    messages = []
    for e in page.events:
        note = f"{e.kind}; EPS status {e.status_code or '-'} {e.status_display or ''}".strip()
        if e.detail:
            note += f"; {e.detail}"
        messages.append(
            render_message(
                [
                    (
                        "MSH",
                        {
                            3: "HGW",
                            4: "HGW",
                            5: "PHARMACY",
                            6: page.trust_ods,
                            7: _hl7_time(e.at),
                            9: ("OSU", "O51", "OSU_O51"),
                            10: f"HGW{e.event_id}",
                            11: "P",
                            12: "2.5",
                        },
                    ),
                    (
                        "ORC",
                        {
                            1: "SC",
                            2: (e.rx_number, page.trust_ods),
                            3: (e.short_form_id, "HGW"),
                            5: ORDER_STATUS.get(e.status_code or "", ""),
                            9: _hl7_time(e.at),
                        },
                    ),
                    ("NTE", {1: "1", 3: note}),
                ]
            )
        )
    batch = render_batch(
        messages, batch_header={3: "HGW", 5: "PHARMACY", 6: page.trust_ods, 10: f"next-cursor={page.next_cursor}"}
    )
    return batch.encode("utf-8")
