"""The per-format benchmark feeds each adapter a payload it fully accepts (figures are printed, never asserted)."""

from __future__ import annotations

from gateway.bench.format_throughput import format_figures


def test_every_format_accepts_every_generated_prescription() -> None:
    figures = format_figures(20)
    for name in ("jac", "ascribe", "hl7v2", "fhir"):
        assert figures[name]["accepted"] == 20, (name, figures[name])
        assert figures[name]["cpu_seconds"] >= 0
