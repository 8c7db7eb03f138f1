"""`hgw bench --quick` as a subprocess: every part runs, small, and the summary carries issue 19's fixed keys.

The figures are printed for whoever reads the CI log; they are never asserted (the machine is shared)."""

from __future__ import annotations

import json

import pytest

from gateway.bench.summary import QUICK, SUMMARY_KEYS
from tests.acceptance.processes import hgw
from tests.conftest import PG_ADMIN_DSN


@pytest.mark.usefixtures("pg_template")  # PostgreSQL must be up (a failure under CI=true)
def test_bench_quick_prints_a_summary_with_the_fixed_keys() -> None:
    url = PG_ADMIN_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
    done = hgw("bench", "--quick", "--postgres-url", url, timeout=900)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    summary = figures["summary"]
    assert tuple(summary) == SUMMARY_KEYS
    assert all(value is None or isinstance(value, int | float) for value in summary.values()), summary
    # Every run measures every key but the national ones (`--scale` only): a part that silently stopped measuring
    # would show here as a null.
    assert all((value is None) == key.endswith("_national") for key, value in summary.items()), summary
    assert figures["quick"] is True
    delivery, sizes = figures["delivery"], QUICK
    assert delivery["push_open_loop"]["offered_per_second"] == 1000
    assert delivery["push_open_loop"]["messages"] == round(1000 * sizes.open_loop_seconds)
    assert delivery["push_latency"]["samples"] == sizes.latency_samples and delivery["push_latency"]["p50_ms"] > 0
    poll = delivery["poll_and_acknowledge"]
    assert poll["orders_each_way"] == sizes.poll_orders
    for rate in ("http_batch_orders_per_second", "http_batch_one_server_process_orders_per_second",
                 "service_batch_orders_per_second", "http_single_orders_per_second"):  # fmt: skip
        assert poll[rate] > 0, rate
    for processes in ("1_worker_process", "2_worker_processes"):
        assert delivery["push_throughput"][processes]["orders"] == sizes.push_orders
    assert summary["push_orders_per_s"] == delivery["push_throughput"]["2_worker_processes"]["orders_per_second"]
    heaviest = figures["healthz_under_heaviest"]
    assert summary["healthz_max_ms_under_heaviest"] == heaviest["healthz_max_ms"]
    assert heaviest[f"jac_{sizes.healthz_prescriptions}_prescriptions"]["status"] == 200
    print(json.dumps(summary))


@pytest.mark.usefixtures("pg_template")
def test_bench_scale_prints_the_national_read_figures_only() -> None:
    url = PG_ADMIN_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
    done = hgw("bench", "--scale", "--scale-factor", "0.0002", "--postgres-url", url, timeout=600)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    summary = figures["summary"]
    assert tuple(summary) == SUMMARY_KEYS
    national = ("kpi_month_s_national", "at_risk_s_national", "overview_s_national")
    assert all(isinstance(summary[key], float) for key in national), summary
    assert all(value is None for key, value in summary.items() if key not in national), summary
    assert figures["national_scale"]["generated"]["patients"] == 100
    print(json.dumps(summary))
