"""`hgw bench`: the benchmark figures (ingest, delivery, /healthz) or the delivery fault campaign, as JSON."""

from __future__ import annotations

import sys
from typing import Any

import click

from gateway.cli_support import PLAIN

SCALE_OUT_QUICK = 20  # --scale-out --quick: orders acknowledged in each set-up


@click.command()
@click.option("--prescriptions", type=int, default=5000, show_default=True)
@click.option(
    "--postgres-url",
    envvar="HGW_BENCH_POSTGRES_URL",
    default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
    show_default=True,
)
@click.option(
    "--naive-sample", type=int, default=1000, show_default=True, help="Bundles built the naive way for the ratio."
)
@click.option("--delivery", is_flag=True, help="Only the delivery figures: push latency, poll + ack, push throughput.")
@click.option("--faults", is_flag=True, help="Run the delivery fault campaign and print its report instead.")
@click.option(
    "--scale-out", is_flag=True,
    help="Only the scale-out figures: 1 server + 1 worker against 2 + 2, directly and through PgBouncer.",
)
@click.option(
    "--scale-out-orders", type=int, default=400, show_default=True,
    help="--scale-out: orders acknowledged one per message in each set-up (push uses --orders).",
)
@click.option("--quick", is_flag=True, help="Every figure, small (a minute on an idle machine): CI smoke.")
@click.option("--orders", type=int, default=500, show_default=True, help="Orders per push delivery figure.")
@click.option(
    "--poll-orders",
    type=int,
    default=8000,
    show_default=True,
    help="Orders per poll + acknowledge figure (each released and acknowledged; a second or more of work).",
)
@click.option("--latency-samples", type=int, default=50, show_default=True, help="Orders timed for push latency.")
@click.option(
    "--open-loop-seconds", type=float, default=5.0, show_default=True, help="Seconds of 1,000 push messages/s offered."
)
@click.option("--kills", type=int, default=200, show_default=True, help="--faults: SIGKILLs of worker processes.")
@click.option("--fault-orders", type=int, default=300, show_default=True, help="--faults: prescriptions sent.")
@click.option("--workers", type=int, default=4, show_default=True, help="--faults: worker processes at a time.")
@click.option(
    "--pg-restarts", type=int, default=3, show_default=True,
    help="--faults: PostgreSQL restarts in each campaign (pg_ctlcluster, root).",
)
@click.option(
    "--api-kills", type=int, default=20, show_default=True,
    help="--faults: SIGKILLs of API server processes (0: no API campaign).",
)
@click.option(
    "--api-orders", type=int, default=60, show_default=True, help="--faults: prescriptions the API campaign sends."
)
@click.option("--scale", is_flag=True, help="Only the read side against a generated national-size store (minutes).")
@click.option(
    "--scale-factor", type=click.FloatRange(0.0001, 1.0), default=1.0, show_default=True,
    help="--scale: the store's size, 1 = national (500,000 patients, 2 million prescriptions).",
)
@click.option("--keep", is_flag=True, help="--scale: keep the generated database (and its key) afterwards.")
def bench(
    prescriptions: int,
    postgres_url: str,
    naive_sample: int,
    delivery: bool,
    faults: bool,
    scale_out: bool,
    scale_out_orders: int,
    quick: bool,
    orders: int,
    poll_orders: int,
    latency_samples: int,
    open_loop_seconds: float,
    kills: int,
    fault_orders: int,
    workers: int,
    pg_restarts: int,
    api_kills: int,
    api_orders: int,
    scale: bool,
    scale_factor: float,
    keep: bool,
) -> None:
    """Print benchmark figures as JSON."""
    if faults:
        from gateway.bench.faults.figures import fault_figures

        report = fault_figures(
            postgres_url, kills=kills, prescriptions=fault_orders, pg_restarts=pg_restarts, workers=workers,
            api_kills=api_kills, api_prescriptions=api_orders,
        )
        PLAIN.emit(report)
        sys.exit(0 if report["passed"] else 1)
    from gateway.bench.summary import summary

    if scale:
        from gateway.bench.national_reads import scale_figures

        national = {"national_scale": scale_figures(postgres_url, factor=scale_factor, keep=keep)}
        PLAIN.emit(national | {"summary": summary(national)})
        return
    from gateway.bench.delivery_figures import delivery_figures
    from gateway.bench.healthz import healthz_figures
    from gateway.bench.ingest import peak_rss_mb, run_bench
    from gateway.bench.summary import QUICK, Sizes

    sizes = QUICK if quick else Sizes(
        prescriptions, naive_sample, 200, 2000, poll_orders, orders, latency_samples, open_loop_seconds
    )
    figures: dict[str, Any] = {"quick": quick}
    if scale_out:
        from gateway.bench.scale_out import scale_out_figures

        figures["scale_out"] = scale_out_figures(
            postgres_url, orders=SCALE_OUT_QUICK if quick else scale_out_orders, push_orders=sizes.push_orders
        )
        figures["peak_rss_mb"] = peak_rss_mb()
        figures["summary"] = summary(figures)
        PLAIN.emit(figures)
        return
    if not delivery:
        figures |= run_bench(
            prescriptions=sizes.prescriptions, postgres_url=postgres_url, naive_sample=sizes.naive_sample,
            validator_runs=sizes.validator_runs, format_prescriptions=sizes.format_prescriptions,
        )
        figures["healthz_under_heaviest"] = healthz_figures(sizes.healthz_prescriptions, sizes.healthz_notes)
    figures["delivery"] = delivery_figures(
        postgres_url, latency_samples=sizes.latency_samples, poll_orders=sizes.poll_orders,
        push_orders=sizes.push_orders, open_loop_seconds=sizes.open_loop_seconds,
    )
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["summary"] = summary(figures)
    PLAIN.emit(figures)
