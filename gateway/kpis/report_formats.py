"""A KPI report as JSON, CSV (one row per population or score) or a FHIR Bundle of MeasureReports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.domain.output_formats import pick_format
from gateway.kpis import catalog as cat
from gateway.kpis.measure_reports import measure_report_bundle
from gateway.kpis.monthly import ALL, KpiReport

CSV_COLUMNS = ("period", "level", "provider", "trust", "measure", "group", "metric", "value", "unit")


def report_json(report: KpiReport) -> dict[str, Any]:
    """The report as plain JSON: the month, the filters applied, and one entry per cell."""
    return {
        "period": report.period.label,
        "start": report.period.start.isoformat(),
        "end": report.period.end.isoformat(),
        "generated_at": report.generated_at.isoformat(),
        "as_of": report.as_of.isoformat() if report.as_of else None,
        "provider": report.provider_ods,
        "trust": report.trust_ods,
        "ack_target_hours": report.options.ack_target_hours,
        "horizon_days": report.options.horizon_days,
        "cells": [
            {
                "level": cell.level,
                "provider": None if cell.provider_ods == ALL else cell.provider_ods,
                "trust": None if cell.trust_ods == ALL else cell.trust_ods,
                "kpis": {
                    measure_id: {
                        code: {
                            "score": None if value.score is None else float(value.score),
                            "unit": cat.BY_ID[measure_id].group(code).unit,
                            "populations": dict(value.populations),
                        }
                        for code, value in groups.items()
                    }
                    for measure_id, groups in cell.measures.items()
                },
            }
            for cell in report.cells
        ],
    }


def report_csv(report: KpiReport) -> str:
    """One row per cell, measure, group and population (plus one for the score), for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for cell in report.cells:
        where = [report.period.label, cell.level, _blank(cell.provider_ods), _blank(cell.trust_ods)]
        for measure_id, groups in cell.measures.items():
            for code, value in groups.items():
                unit = cat.BY_ID[measure_id].group(code).unit or ""
                for population, count in value.populations.items():
                    writer.writerow([*where, measure_id, code, population, count, ""])
                if unit:
                    writer.writerow(
                        [*where, measure_id, code, "score", "" if value.score is None else value.score, unit]
                    )
    return out.getvalue()


def _blank(ods: str) -> str:
    return "" if ods == ALL else ods


@dataclass(frozen=True, slots=True)
class KpiFormat:
    name: str
    media_type: str
    render: Callable[[KpiReport], bytes]


FORMATS = {
    "json": KpiFormat("json", "application/json", lambda r: json.dumps(report_json(r)).encode()),
    "csv": KpiFormat("csv", "text/csv; charset=utf-8", lambda r: report_csv(r).encode()),
    "fhir": KpiFormat("fhir", "application/fhir+json", lambda r: json.dumps(measure_report_bundle(r)).encode()),
}


def kpi_format(name: str | None) -> KpiFormat:
    """The format called `name` (json when none is asked for), or a located FORMAT_NOT_AVAILABLE."""
    return pick_format(FORMATS, name, unavailable="the KPIs are not available as")
