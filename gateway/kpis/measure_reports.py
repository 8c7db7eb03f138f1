"""The KPIs in FHIR: Measure definitions (written to `fhir_profiles/Measure/`) and a report as a Bundle of
MeasureReports, one per Measure, with the whole as the group populations and stratifiers per provider, per trust
and per provider and trust.

`python -m gateway.kpis.measure_reports` rewrites the Measure files and `fhir_profiles/index.json` from
`gateway.kpis.catalog`; a test checks the checked-in files are in sync.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fhir_profiles import PACKAGE_DIR
from gateway.kpis import catalog as cat

if TYPE_CHECKING:
    from gateway.kpis.monthly import Cell, KpiReport
    from gateway.kpis.scores import GroupValue

MEASURE_DIR = PACKAGE_DIR / "Measure"
MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
MEASURE_SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
UCUM = "http://unitsofmeasure.org"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
DEFINED = "2026-11-23"
_IDS = uuid.UUID("6f1d1c9e-4c55-4b0e-9a43-2f6a3f0c7d10")
_UNIT_DISPLAY = {"h": "hours", "d": "days", "%": "%"}
_STRATA = (("provider", "provider"), ("trust", "trust"), ("provider-trust", "provider and trust"))


def _criteria(text: str) -> dict[str, str]:
    return {"language": "text/plain", "expression": text}


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _name(measure_id: str) -> str:
    return "".join(part.capitalize() for part in measure_id.split("-"))


def measure_resource(m: cat.Measure) -> dict[str, Any]:
    """The FHIR R4 Measure for one KPI."""
    resource: dict[str, Any] = {
        "resourceType": "Measure",
        "id": m.id,
        "url": m.url,
        "version": cat.VERSION,
        "name": _name(m.id),
        "title": m.title,
        "status": "active",
        "experimental": False,
        "date": DEFINED,
        "publisher": "Homecare Gateway",
        "description": m.description,
        "scoring": _concept(MEASURE_SCORING, m.scoring),
    }
    if m.improvement is not None:
        resource["improvementNotation"] = _concept(IMPROVEMENT, m.improvement)
    resource["guidance"] = (
        "Computed per UK calendar month from the gateway's lifecycle timestamps; the definitions, exclusions and edge "
        "cases are in the gateway's docs/kpis.md. Stratified by provider ODS code, trust ODS code, and both."
    )
    resource["group"] = [
        {
            "id": g.code,
            "code": {"text": g.code},
            "description": g.description + (f" Score unit: {_UNIT_DISPLAY[g.unit]}." if g.unit else ""),
            "population": [
                {
                    "code": _concept(MEASURE_POPULATION, p.code),
                    "description": p.criteria,
                    "criteria": _criteria(p.criteria),
                }
                for p in g.populations
            ],
            "stratifier": [
                {"code": {"text": code}, "criteria": _criteria(f"the prescription's {what} (ODS code)")}
                for code, what in _STRATA
            ],
        }
        for g in m.groups
    ]
    return resource


def _populations(value: GroupValue) -> list[dict[str, Any]]:
    return [{"code": _concept(MEASURE_POPULATION, code), "count": count} for code, count in value.populations.items()]


def _score(value: GroupValue, unit: str | None) -> dict[str, Any]:
    if unit is None or value.score is None:
        return {}
    return {"measureScore": {"value": float(value.score), "unit": _UNIT_DISPLAY[unit], "system": UCUM, "code": unit}}


def _ods(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ODS_SYSTEM, "code": code}]}


def _stratum(cell: Cell, value: GroupValue, unit: str | None) -> dict[str, Any]:
    stratum: dict[str, Any] = {}
    if cell.level == "provider":
        stratum["value"] = _ods(cell.provider_ods)
    elif cell.level == "trust":
        stratum["value"] = _ods(cell.trust_ods)
    else:
        stratum["component"] = [
            {"code": {"text": "provider"}, "value": _ods(cell.provider_ods)},
            {"code": {"text": "trust"}, "value": _ods(cell.trust_ods)},
        ]
    return {**stratum, "population": _populations(value), **_score(value, unit)}


def measure_report(report: KpiReport, m: cat.Measure) -> dict[str, Any] | None:
    """The MeasureReport of `m` for the report's month, or None when the report does not measure it."""
    whole = next(c for c in report.cells if c.level == "all")
    if m.id not in whole.measures:
        return None
    key = f"{m.id}|{report.period.label}|{report.provider_ods}|{report.trust_ods}|{report.generated_at.isoformat()}"
    groups = []
    for g in m.groups:
        strata = []
        for level, _what in _STRATA:
            cells = [c for c in report.cells if c.level == level and m.id in c.measures]
            if cells:
                stratum = [_stratum(c, c.measures[m.id][g.code], g.unit) for c in cells]
                strata.append({"code": [{"text": level}], "stratum": stratum})
        value = whole.measures[m.id][g.code]
        group: dict[str, Any] = {"id": g.code, "code": {"text": g.code}, "population": _populations(value)}
        group.update(_score(value, g.unit))
        if strata:
            group["stratifier"] = strata
        groups.append(group)
    last_day = report.period.next_first_day - timedelta(days=1)
    resource: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": str(uuid.uuid5(_IDS, key)),
        "status": "complete",
        "type": "summary",
        "measure": f"{m.url}|{cat.VERSION}",
        "date": report.generated_at.isoformat(),
        "reporter": {"display": "Homecare Gateway"},
        "period": {
            "start": report.period.first_day.isoformat(),
            "end": last_day.isoformat(),
        },
    }
    if m.improvement is not None:
        resource["improvementNotation"] = _concept(IMPROVEMENT, m.improvement)
    resource["group"] = groups
    return resource


def measure_report_bundle(report: KpiReport) -> dict[str, Any]:
    """Every measured KPI of the report as MeasureReports in a collection Bundle."""
    reports = [r for r in (measure_report(report, m) for m in cat.MEASURES) if r is not None]
    key = f"bundle|{report.period.label}|{report.provider_ods}|{report.trust_ods}|{report.generated_at.isoformat()}"
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(_IDS, key)),
        "type": "collection",
        "timestamp": report.generated_at.isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in reports],
    }


# --- the checked-in Measure files ------------------------------------------------------------------------------------
def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[Path, dict[str, Any]]:
    """Every Measure file, path → content."""
    return {MEASURE_DIR / f"{m.id}.json": measure_resource(m) for m in cat.MEASURES}


def main() -> int:
    from gateway.validator.package import Package
    from gateway.validator.snapshot import INDEX_PATH, index

    MEASURE_DIR.mkdir(exist_ok=True)
    files = generate()
    for path in MEASURE_DIR.glob("*.json"):
        if path not in files:
            path.unlink()
    for path, content in files.items():
        path.write_text(render(content), encoding="utf-8")
    INDEX_PATH.write_text(render(index(Package.load())), encoding="utf-8")
    print(f"wrote {len(files)} Measures and {INDEX_PATH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
