"""Server-side SVG charts for the console: a KPI over months, one line per provider. No JavaScript, no CDN.

`line_chart` draws any labelled series; `kpi_series` takes them from monthly `KpiReport`s. The SVG is plain text,
safe to inline in a page: every label is escaped, and a missing value (a month with nothing to score) breaks the
line rather than being drawn as zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape

from gateway.kpis.monthly import KpiReport

Series = Mapping[str, Sequence[float | None]]

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 132, 30, 36


def kpi_series(
    reports: Sequence[KpiReport], measure_id: str, group: str, *, level: str = "provider"
) -> tuple[list[str], dict[str, list[float | None]]]:
    """(month labels, series): the score of `measure_id`/`group` per month for each provider (`level` "provider"),
    trust ("trust") or the whole ("all"), oldest month first."""
    ordered = sorted(reports, key=lambda r: r.period.label)
    months = [r.period.label for r in ordered]
    names = sorted({_name(c.provider_ods, c.trust_ods, level) for r in ordered for c in r.cells if c.level == level})
    series: dict[str, list[float | None]] = {name: [None] * len(ordered) for name in names}
    for index, report in enumerate(ordered):
        for cell in report.cells:
            if cell.level != level or measure_id not in cell.measures:
                continue
            score = cell.measures[measure_id][group].score
            series[_name(cell.provider_ods, cell.trust_ods, level)][index] = None if score is None else float(score)
    return months, series


def _name(provider: str, trust: str, level: str) -> str:
    if level == "all":
        return "All"
    return provider if level == "provider" else trust if level == "trust" else f"{provider} / {trust}"


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` that splits into four round ticks: 1, 2, 4 or 8 times a power of
    ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 8, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop ends at 10


def _fmt(value: float) -> str:
    return f"{Decimal(str(round(value, 2))).normalize():f}"


def line_chart(
    title: str,
    months: Sequence[str],
    series: Series,
    *,
    unit: str = "",
    width: int = 640,
    height: int = 260,
    y_max: float | None = None,
) -> str:
    """An SVG line chart: months along x, one line (with a marker and a tooltip per point) per named series."""
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    values = [v for line in series.values() for v in line if v is not None]
    top = y_max if y_max is not None else _nice_max(max(values, default=0.0))
    label = f"{title} ({unit})" if unit else title
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kpi-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<text x="{_LEFT}" y="18" font-size="13" font-weight="bold">{escape(label)}</text>',
    ]
    if not months or not values:
        out.append(
            f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_TOP + plot_h / 2:.1f}" text-anchor="middle" font-size="12" '
            'fill="#555">No data for this period</text>'
        )
        out.append("</svg>")
        return "\n".join(out)

    def x(index: int) -> float:
        return _LEFT + (plot_w * (index + 0.5) / len(months))

    def y(value: float) -> float:
        return _TOP + plot_h - plot_h * min(max(value, 0.0), top) / top

    for tick in range(5):
        value = top * tick / 4
        out.append(
            f'<line x1="{_LEFT}" y1="{y(value):.1f}" x2="{_LEFT + plot_w}" y2="{y(value):.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">{_fmt(value)}</text>'
        )
    for index, month in enumerate(months):
        out.append(
            f'<text x="{x(index):.1f}" y="{height - _BOTTOM + 16}" text-anchor="middle" font-size="11">'
            f"{escape(month)}</text>"
        )
    out.append(f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_LEFT + plot_w}" y2="{_TOP + plot_h}" stroke="#333"/>')
    for number, (name, line) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        out.append(f'<g class="series" data-series="{escape(name)}" stroke="{colour}" fill="{colour}">')
        for segment in _segments(line):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in segment)
            if len(segment) > 1:
                out.append(f'<polyline points="{points}" fill="none" stroke-width="2"/>')
        for index, point in enumerate(line):
            if point is not None:
                tip = f"{name} {months[index]}: {_fmt(point)}{(' ' + unit) if unit else ''}"
                out.append(
                    f'<circle cx="{x(index):.1f}" cy="{y(point):.1f}" r="3"><title>{escape(tip)}</title></circle>'
                )
        out.append("</g>")
        legend_y = _TOP + 14 * number + 6
        out.append(
            f'<rect x="{width - _RIGHT + 12}" y="{legend_y - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{width - _RIGHT + 27}" y="{legend_y + 1}" font-size="11">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _segments(line: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive values; a None ends a run."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, value in enumerate(line):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs


def kpi_chart(
    reports: Sequence[KpiReport], measure_id: str, group: str, title: str, *, unit: str = "", level: str = "provider"
) -> str:
    """The chart of one KPI score over the reports' months, one line per provider (or trust, or the whole).
    Percentages are drawn on a 0–100 axis."""
    months, series = kpi_series(reports, measure_id, group, level=level)
    return line_chart(title, months, series, unit=unit, y_max=100.0 if unit == "%" else None)
