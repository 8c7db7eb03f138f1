"""`hgw bench`: the benchmarks and the fault campaigns. They print figures and never assert timings.

Enters: a scratch database and generated exports. Leaves: the figures of docs/benchmarks.md, docs/delivery.md
and docs/scale-out.md.
"""

__all__ = [
    "cli",
    "delivery_figures",
    "faults",
    "format_throughput",
    "healthz",
    "ingest",
    "load",
    "naive_pipeline",
    "national_reads",
    "national_store",
    "open_loop",
    "pgbouncer",
    "scale_out",
    "single_message",
    "summary",
    "validator",
]
