"""The national homecare KPIs of a month (docs/kpis.md): measures, scores and their formats.

Enters: what the store counted for the month (`gateway.store.kpis`). Leaves: a report as JSON, CSV or FHIR
MeasureReports, for `GET /api/v1/kpis`, the console and `hgw kpi`.
"""

__all__ = [
    "catalog",
    "cli",
    "measure_reports",
    "missed_dose_rates",
    "monthly",
    "report_formats",
    "scores",
]
