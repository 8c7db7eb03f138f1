"""`hgw bench` figures for the algorithms a hostile request could once make quadratic (issue 16): HL7 v2 ACKs of
messages full of issues, masking a payload's patients, and the new-patient KPI pass. Each is measured at doubling
sizes, so the printed ratios show the shape (about 2 for linear, 4 for quadratic). Printed, never asserted."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.hl7v2 import Hl7v2Adapter, render_ack
from adapters.hl7v2.writer import render_message
from gateway.security.masking import mask_text
from gateway.store.kpis import HeldPrescription, first_deliveries

_NOTES_PER_MESSAGE = 500  # out of place (after ZHC): one issue each


def _hl7_payload(messages: int) -> bytes:
    header = {9: ("RDE", "O11", "RDE_O11"), 12: "2.5"}
    out = []
    for number in range(messages):
        segments: list[Any] = [("MSH", header | {10: f"M{number}"}), ("ZHC", {2: "DELIVERY"})]
        segments += [("NTE", {1: "1", 3: f"late note {i}"}) for i in range(_NOTES_PER_MESSAGE)]
        out.append(render_message(segments))
    return "".join(out).encode()


def _timed(work: Any) -> float:
    """CPU seconds of `work` (not wall time: a busy machine does not change the shape)."""
    started = time.process_time()
    work()
    return round(time.process_time() - started, 3)


def hl7_figures() -> dict[str, Any]:
    """Parse and ACK payloads of 2k, 4k and 8k out-of-place segments; and one message of 200,000 notes."""
    figures: dict[str, Any] = {}
    for messages in (4, 8, 16):
        payload = _hl7_payload(messages)
        figures[f"{messages * _NOTES_PER_MESSAGE}_issue_segments_cpu_seconds"] = _timed(
            lambda p=payload: render_ack(Hl7v2Adapter().parse(p))
        )
    one = render_message([("MSH", {9: ("RDE", "O11", "RDE_O11"), 10: "BIG", 12: "2.5"})]).encode()
    nte = one + b"".join(b"NTE|1||note %d\r" % i for i in range(200_000))
    figures["one_message_200000_nte_cpu_seconds"] = _timed(lambda: render_ack(Hl7v2Adapter().parse(nte)))
    return figures


def mask_figures() -> dict[str, Any]:
    """Mask a raw text holding `n` patients' values (15 per patient), for n = 1,250, 2,500 and 5,000."""
    figures: dict[str, Any] = {}
    for patients in (1_250, 2_500, 5_000):
        values = [f"{kind}{i:05d}x" for i in range(patients) for kind in "ABCDEFGHIJKLMNO"]
        text = "".join(f"PID|||{v}^^^NHS||FAMILY^Given||19610307|F\r" for v in values[::3])
        figures[f"{patients}_patients_{len(text) // 1024}_kib_cpu_seconds"] = _timed(
            lambda t=text, v=values: mask_text(t, v)
        )
    return figures


def kpi_figures() -> dict[str, Any]:
    """The new-patient KPI pass over 6,000, 12,000 and 24,000 prescriptions (the SQL is one grouped query)."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    figures: dict[str, Any] = {}
    for count in (6_000, 12_000, 24_000):
        held = [
            HeldPrescription(
                f"p{i // 2}",
                "VNFKT",
                "RBA",
                start + timedelta(hours=i % 500),
                i % 3 == 0,
                None,
                start + timedelta(days=3, hours=i % 700) if i % 4 else None,
            )
            for i in range(count)
        ]
        figures[f"{count}_prescriptions_cpu_seconds"] = _timed(
            lambda h=held: first_deliveries(
                h, trust_ods=None, delivered_from=start, delivered_before=start + timedelta(days=30), waiting_only=False
            )
        )
    return figures


def load_figures() -> dict[str, Any]:
    return {"hl7_ack": hl7_figures(), "masking": mask_figures(), "kpi_new_patients": kpi_figures()}
