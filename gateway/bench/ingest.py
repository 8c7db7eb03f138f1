"""`hgw bench`: throughput of a generated JAC export through to queued, on SQLite and PostgreSQL, and the
fast bundle path against building the same bundles naively with fhir.resources R4B models."""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.bench.format_throughput import format_figures
from gateway.bench.load import load_figures
from gateway.bench.naive_pipeline import build_prescription_order_naive
from gateway.bench.validator import bench_figures
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle
from gateway.intake.handling import parse_payload
from gateway.intake.ingest import ingest_export
from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory, sample_prescribing
from gateway.store.migrate import upgrade
from gateway.store.scratch import PostgresUnreachable, scratch_database
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER
from gateway.validator.validator import Validator
from gateway.wiring import build_gateway

# The benchmark calls the service layer directly, as the trust that the generated export belongs to.
BENCH_TRUST = Principal("bench", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


async def _ingest(database_url: str, data_dir: Path, payload: bytes) -> dict[str, Any]:
    upgrade(database_url)
    gw = build_gateway(
        # Planned on every core (docs/limits.md "Planning on every core": off by default, opted in here).
        Settings(
            data_dir=data_dir, database_url=database_url, mode="test", outbound_allow_loopback=True, ingest_workers=0
        )
    )
    try:
        await admin.add_provider(gw, ods="VNFKT", name="Five Star Homecare Leeds Ltd", mode="pull")
        await admin.add_route(gw, provider_ods="VNFKT")
        await configure_sample_directory(gw)
        start = time.perf_counter()
        report = await ingest_export(gw, BENCH_TRUST, payload, "text/csv")
        elapsed = time.perf_counter() - start
    finally:
        await gw.close()
    accepted = sum(p.outcome == "accepted" for p in report.prescriptions)
    return {
        "prescriptions": accepted,
        "seconds": round(elapsed, 3),
        "prescriptions_per_second": round(accepted / elapsed, 1),
    }


def _bundle_paths(payload: bytes, sample: int) -> dict[str, Any]:
    prescriptions = [pp.prescription for pp in parse_payload(payload, "text/csv").prescriptions if pp.prescription]
    prescriptions = prescriptions[:sample]
    ids = [OrderIds.new(p) for p in prescriptions]

    validator = Validator.from_package()
    start = time.perf_counter()
    for p, i in zip(prescriptions, ids, strict=True):
        bundle = build_prescription_order(
            p, i, provider_ods="VNFKT", source_endpoint="urn:bench", prescribing=sample_prescribing(p.trust_ods)
        )
        if any(x.severity == "error" for x in validator.validate(bundle, HOMECARE_PRESCRIPTION_ORDER)):
            raise RuntimeError("benchmark bundle failed validation")
        dumps_bundle(bundle)
    fast = time.perf_counter() - start

    start = time.perf_counter()
    for p, i in zip(prescriptions, ids, strict=True):
        build_prescription_order_naive(
            p, i, provider_ods="VNFKT", source_endpoint="urn:bench", prescribing=sample_prescribing(p.trust_ods)
        )
    naive = time.perf_counter() - start
    return {
        "bundles": len(prescriptions),
        "fast_bundles_per_second": round(len(prescriptions) / fast, 1),
        "naive_r4b_bundles_per_second": round(len(prescriptions) / naive, 1),
        "speedup_vs_naive": round(naive / fast, 2),
    }


def run_bench(
    *,
    prescriptions: int,
    postgres_url: str,
    naive_sample: int,
    validator_runs: int = 200,
    format_prescriptions: int = 2000,
) -> dict[str, Any]:
    payload = render_export(export_rows(prescriptions, seed=42, rx_prefix="BENCH"))
    figures: dict[str, Any] = {"export_bytes": len(payload), "prescriptions_in_file": prescriptions}

    start = time.perf_counter()
    parsed = parse_payload(payload, "text/csv")
    figures["parse_seconds"] = round(time.perf_counter() - start, 3)
    figures["parsed_accepted"] = sum(pp.accepted for pp in parsed.prescriptions)

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        figures["sqlite_ingest"] = asyncio.run(_ingest(url, Path(tmp), payload))
        figures["postgresql_ingest"] = _postgres(postgres_url, Path(tmp), payload)
    figures["bundle_build_validate_serialise"] = _bundle_paths(payload, naive_sample)
    figures["validator_standard_bundle"] = bench_figures(validator_runs)
    figures["parse_and_map_per_format_one_core"] = format_figures(min(prescriptions, format_prescriptions))
    figures["hostile_input_shapes"] = load_figures()  # issue 16: doubling sizes, linear ratios
    return figures


def _postgres(url: str, data_dir: Path, payload: bytes) -> dict[str, Any]:
    """Ingest into a scratch database created next to `url`'s, dropped afterwards."""
    try:
        with scratch_database(url, "hgw_bench") as scratch:
            return asyncio.run(_ingest(scratch, data_dir, payload))
    except PostgresUnreachable as exc:
        return {"skipped": f"PostgreSQL unreachable: {exc}".strip()}
