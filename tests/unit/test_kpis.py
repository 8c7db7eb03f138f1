"""KPI arithmetic, months, the Measure definitions in fhir_profiles/, and the SVG charts (no I/O)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport

from gateway.console.charts import kpi_chart, kpi_series, line_chart
from gateway.errors import InputError
from gateway.kpis import catalog as cat
from gateway.kpis import measure_reports as measures
from gateway.kpis.monthly import ALL, Cell, KpiReport, Options, Period, parse_period
from gateway.kpis.scores import GroupValue, median, per_100, percentile, rounded
from gateway.validator.package import Package

SVG = "{http://www.w3.org/2000/svg}"


def test_median_and_nearest_rank_percentile() -> None:
    values = [Decimal(v) for v in ("72", "0.5", "10", "2", "10")]
    assert median(values) == Decimal("10")
    assert percentile(values, 90) == Decimal("72")  # rank ceil(4.5) = 5
    assert median([Decimal("0.5"), Decimal("10")]) == Decimal("5.25")
    assert rounded(Decimal("5.25")) == Decimal("5.3")
    assert percentile([Decimal(n) for n in range(1, 11)], 90) == Decimal(9)  # rank 9 of 10
    assert median([]) is None and percentile([], 90) is None
    assert per_100(1, 7) == Decimal("14.3") and per_100(1, 0) is None


def test_months_are_uk_calendar_months() -> None:
    september, october = Period(2026, 9), Period(2026, 10)
    assert september.start == datetime(2026, 8, 31, 23, 0, tzinfo=UTC)  # BST
    assert october.end == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # GMT again from 25 October
    assert Period(2026, 1).previous() == Period(2025, 12) and Period(2025, 12).next_first_day == date(2026, 1, 1)
    assert Period.containing(datetime(2026, 8, 31, 23, 30, tzinfo=UTC)) == september


@pytest.mark.parametrize("raw", ["2026-9", "26-09", "2026-00", "0000-01", "١٢٣٤-01", "x"])
def test_period_must_be_a_month(raw: str) -> None:
    with pytest.raises(InputError) as info:
        parse_period(raw, datetime(2026, 10, 20, tzinfo=UTC))
    assert info.value.issues[0].location.path == "period"


def test_measure_files_are_in_sync_with_the_catalog() -> None:
    generated = measures.generate()
    on_disk = set(measures.MEASURE_DIR.glob("*.json"))
    assert on_disk == set(generated), "run python -m gateway.kpis.measure_reports"
    for path, content in generated.items():
        assert path.read_text(encoding="utf-8") == measures.render(content), f"{path.name}: run the generator"
        Measure.model_validate(content)
    index = json.loads((measures.MEASURE_DIR.parent / "index.json").read_text(encoding="utf-8"))
    listed = {e["url"] for e in index["files"] if e["resourceType"] == "Measure"}
    assert listed == {m.url for m in cat.MEASURES}
    assert {m.url for m in cat.MEASURES} <= set(Package.load().resources)


def _report(scores: dict[tuple[str, str], tuple[float | None, ...]], months: int = 3) -> list[KpiReport]:
    """Monthly reports whose within-target score is given per (provider, trust) cell."""
    out = []
    for index in range(months):
        cells = []
        for (provider, trust), values in scores.items():
            level = "all" if provider == ALL and trust == ALL else "provider" if trust == ALL else "provider-trust"
            value = values[index]
            group = GroupValue({cat.NUMERATOR: 1}, None if value is None else Decimal(str(value)))
            cells.append(Cell(level, provider, trust, {cat.MEASURES[1].id: {"within-target": group}}))
        out.append(
            KpiReport(Period(2026, 7 + index), datetime(2026, 10, 20, tzinfo=UTC), None, None, None, Options(), cells)
        )
    return out


def test_series_per_provider_keep_gaps() -> None:
    reports = _report({("VNFKT", ALL): (80.0, None, 90.0), ("VNCEL", ALL): (100.0, 50.0, 75.0), (ALL, ALL): (1, 2, 3)})
    months, series = kpi_series(list(reversed(reports)), cat.MEASURES[1].id, "within-target")
    assert months == ["2026-07", "2026-08", "2026-09"]
    assert series == {"VNCEL": [100.0, 50.0, 75.0], "VNFKT": [80.0, None, 90.0]}
    assert kpi_series(reports, cat.MEASURES[1].id, "within-target", level="all")[1] == {"All": [1.0, 2.0, 3.0]}


def test_line_chart_is_plain_svg_with_escaped_labels_and_broken_lines() -> None:
    svg = line_chart(
        "Acknowledged <in time>",
        ["2026-07", "2026-08", "2026-09"],
        {"VNCEL": [100.0, 50.0, 75.0], '<script>alert("x")</script>': [80.0, None, 90.0]},
        unit="%",
        y_max=100.0,
    )
    root = ET.fromstring(svg)  # noqa: S314 - our own output: well-formed XML
    assert root.tag == SVG + "svg" and "script" not in {e.tag.removeprefix(SVG) for e in root.iter()}
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    groups = root.findall(f"{SVG}g")
    assert [g.get("data-series") for g in groups] == ["VNCEL", '<script>alert("x")</script>']
    assert len(groups[0].findall(f"{SVG}polyline")) == 1 and len(groups[0].findall(f"{SVG}circle")) == 3
    assert groups[1].findall(f"{SVG}polyline") == [] and len(groups[1].findall(f"{SVG}circle")) == 2  # the gap
    # 100 % is the top of the plot, 50 % the middle.
    cy = [float(c.get("cy", "0")) for c in groups[0].findall(f"{SVG}circle")]
    assert cy[0] == pytest.approx(30.0) and cy[1] == pytest.approx(30 + (260 - 30 - 36) / 2)
    titles = [t.text for t in groups[0].iter(f"{SVG}title")]
    assert titles == ["VNCEL 2026-07: 100 %", "VNCEL 2026-08: 50 %", "VNCEL 2026-09: 75 %"]
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere


def test_chart_without_data_says_so() -> None:
    svg = kpi_chart([], cat.MEASURES[0].id, "median", "Hours to acknowledgement", unit="h")
    assert "No data for this period" in svg
    ET.fromstring(svg)  # noqa: S314
    auto = line_chart("Hours", ["2026-09"], {"A": [37.0]}, unit="h")
    assert ">40</text>" in auto and ">10</text>" in auto  # the axis rounds up to a nice maximum


def test_measure_report_bundle_validates() -> None:
    reports = _report({("VNFKT", ALL): (80.0,), (ALL, ALL): (80.0,)}, months=1)
    bundle = measures.measure_report_bundle(reports[0])
    Bundle.model_validate(bundle)
    [entry] = bundle["entry"]
    report = MeasureReport.model_validate(entry["resource"])
    assert report.measure == cat.MEASURES[1].url + "|" + cat.VERSION
    stratum = entry["resource"]["group"][0]["stratifier"][0]["stratum"][0]
    assert stratum["value"]["coding"][0]["code"] == "VNFKT" and stratum["measureScore"]["value"] == 80.0
