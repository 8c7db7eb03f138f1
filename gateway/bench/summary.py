"""The `summary` object `hgw bench` prints last: issue 19's fixed keys, read from the detailed figures.

Every key is always present; a figure the run did not measure (a part skipped by an option, PostgreSQL unreachable,
or a measurement not built yet) is null, and docs/benchmarks.md says why each can be. `--quick` runs every part
smaller (`QUICK`) for CI smoke: its figures are printed, never asserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

SUMMARY_KEYS: Final = (
    "ingest_pg_rx_per_s",
    "naive_rx_per_s",
    "ingest_vs_naive",
    "single_ack_per_s",
    "batch_poll_ack_per_s",
    "push_orders_per_s",
    "push_p99_ms_at_1000_per_s",
    "validator_median_ms",
    "jac_parse_map_per_s",
    "peak_rss_mb",
    "healthz_max_ms_under_heaviest",
    "kpi_month_s_national",
    "at_risk_s_national",
    "overview_s_national",
)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each part of `hgw bench` does."""

    prescriptions: int
    naive_sample: int
    validator_runs: int
    format_prescriptions: int
    poll_orders: int
    push_orders: int
    latency_samples: int
    open_loop_seconds: float
    healthz_prescriptions: int = 5000  # the heaviest export allowed, and
    healthz_notes: int = 200_000  # the heaviest HL7 v2 message (gateway/bench/healthz.py)


# Small enough that the whole bench, delivery included, finishes in well under a minute on the shared machine.
QUICK: Final = Sizes(
    prescriptions=200, naive_sample=50, validator_runs=50, format_prescriptions=100, poll_orders=100,
    push_orders=60, latency_samples=3, open_loop_seconds=0.1, healthz_prescriptions=50, healthz_notes=2000,
)


def _at(figures: dict[str, Any], *path: str) -> Any:
    """The value at `path`, or None where any step is missing (a skipped part)."""
    value: Any = figures
    for step in path:
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    """The fixed keys, each a number or null."""
    ingest = _at(figures, "postgresql_ingest", "prescriptions_per_second")
    naive = _at(figures, "bundle_build_validate_serialise", "naive_r4b_bundles_per_second")
    poll = ("delivery", "poll_and_acknowledge")
    return {
        "ingest_pg_rx_per_s": ingest,
        "naive_rx_per_s": naive,
        "ingest_vs_naive": round(ingest / naive, 2) if ingest and naive else None,
        "single_ack_per_s": _at(figures, *poll, "http_single_orders_per_second"),
        "batch_poll_ack_per_s": _at(figures, *poll, "http_batch_orders_per_second"),
        "push_orders_per_s": _at(figures, "delivery", "push_throughput", "2_worker_processes", "orders_per_second"),
        "push_p99_ms_at_1000_per_s": _at(figures, "delivery", "push_open_loop", "p99_ms"),  # 1,000/s offered
        "validator_median_ms": _at(figures, "validator_standard_bundle", "validator_median_ms"),
        "jac_parse_map_per_s": _at(figures, "parse_and_map_per_format_one_core", "jac", "prescriptions_per_second"),
        "peak_rss_mb": figures.get("peak_rss_mb"),
        "healthz_max_ms_under_heaviest": _at(figures, "healthz_under_heaviest", "healthz_max_ms"),
        "kpi_month_s_national": _fastest(figures, "kpi_month"),  # hgw bench --scale only
        "at_risk_s_national": _fastest(figures, "at_risk"),
        "overview_s_national": _fastest(figures, "overview"),
    }


def _fastest(figures: dict[str, Any], read: str) -> float | None:
    """The fastest run of one read against the national-size store (`gateway/bench/national_reads.py`)."""
    seconds = _at(figures, "national_scale", "reads", read, "seconds")
    return min(seconds) if seconds else None
