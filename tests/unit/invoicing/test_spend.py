"""Spend aggregation: the total is always the sum of the approved lines; the publication form hides small rows."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gateway.invoicing.spend import SMALL, SpendReport, aggregate, render_csv, render_fhir

LINE = st.tuples(
    st.sampled_from(["RBA", "RHM"]),
    st.sampled_from(["VNFKT", "VNCEL"]),
    st.sampled_from(["2026-11", "2026-12"]),
    st.sampled_from(["medicine", "service"]),
    st.sampled_from(["111", "222", "nurse-visit"]),
    st.sampled_from(["approved", "disputed", "pending"]),
    st.sampled_from(["1", "0.5", "20"]),
    st.integers(0, 10**7),
    st.integers(0, 10**6),
)


@given(st.lists(LINE, max_size=60), st.booleans())
def test_spend_is_the_sum_of_approved_lines(
    lines: list[tuple[str, str, str, str, str, str, str, int, int]], publish: bool
) -> None:
    report = SpendReport("2026-11", "2026-12", aggregate(lines, publication=publish), publish)
    approved = [line for line in lines if line[5] == "approved"]
    totals = report.totals()
    assert Decimal(totals["total"]) * 100 == sum(net + vat for *_, net, vat in approved)
    assert Decimal(totals["disputed"]) * 100 == sum(net + vat for *_, d, _q, net, vat in lines if d == "disputed")
    assert sum(r.lines for r in report.rows) == len(approved)
    fhir = render_fhir(report)
    scores = [g["measureScore"]["value"] for e in fhir["entry"] for g in e["resource"]["group"]]
    assert sum(scores, Decimal(0)) * 100 == sum(net + vat for *_, net, vat in approved)
    assert len(render_csv(report).splitlines()) == len(report.rows) + 1
    if publish:
        assert all(r.lines >= SMALL or r.code == "other" for r in report.rows)


def test_volume_and_kinds_apart() -> None:
    lines = [
        ("RBA", "VNFKT", "2026-12", "medicine", "111", "approved", "0.5", 100, 0),
        ("RBA", "VNFKT", "2026-12", "medicine", "111", "approved", "2", 100, 0),
        ("RBA", "VNFKT", "2026-12", "service", "nurse-visit", "approved", "1", 4500, 900),
    ]
    rows = [r.as_json() for r in aggregate(lines)]
    assert [(r["kind"], r["volume"], r["total"]) for r in rows] == [
        ("medicine", "2.5", "2.00"),
        ("service", "1", "54.00"),
    ]
