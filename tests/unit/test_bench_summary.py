"""The summary's national-scale keys: the fastest run of each read from `hgw bench --scale`, null otherwise."""

from __future__ import annotations

from gateway.bench.summary import SUMMARY_KEYS, summary

NATIONAL = ("kpi_month_s_national", "at_risk_s_national", "overview_s_national")


def test_the_national_keys_are_null_when_scale_did_not_run() -> None:
    found = summary({"delivery": {}})
    assert tuple(found) == SUMMARY_KEYS
    assert set(NATIONAL) <= set(SUMMARY_KEYS)
    assert all(found[key] is None for key in NATIONAL)


def test_the_national_keys_take_the_fastest_run_of_each_read() -> None:
    reads = {
        "kpi_month": {"seconds": [2.5, 1.25]},
        "at_risk": {"seconds": [0.75, 0.9]},
        "overview": {"seconds": [0.2]},
    }
    found = summary({"national_scale": {"generated": {}, "reads": reads}})
    assert [found[key] for key in NATIONAL] == [1.25, 0.75, 0.2]


def test_a_skipped_scale_run_leaves_the_keys_null() -> None:
    found = summary({"national_scale": {"skipped": "PostgreSQL unreachable"}})
    assert all(found[key] is None for key in NATIONAL)
