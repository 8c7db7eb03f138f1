"""`hgw bench --scale`: the read side against a national-size store (issue 19 item 7).

A scratch PostgreSQL database beside `--postgres-url` is migrated, 12 providers are added through the service layer,
`gateway.bench.national_store` fills it (`--scale-factor` × 500,000 patients; 1 is national), and three reads are
timed through the same service functions as the API and the console, as an operator: the current month's KPIs
(`kpis.monthly.build_report`, with the at-risk cohorts), the patients-at-risk list for today
(`safety.at_risk.worklist`, masked) and the console overview (`operations.overview.overview`). Each read runs
`runs` times one after another; the summary takes the fastest (the others show the cold cache). The database is
dropped afterwards unless `--keep` (its data directory, holding the key its ciphertext opens with, is kept too).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.bench.national_store import PROVIDERS, fill
from gateway.context import Gateway
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.fhir.datatypes import uk_date
from gateway.kpis.monthly import Period, build_report
from gateway.operations import admin
from gateway.operations.overview import overview
from gateway.safety.at_risk import worklist
from gateway.settings import Settings
from gateway.store.migrate import upgrade
from gateway.store.scratch import PostgresUnreachable, scratch_database
from gateway.wiring import build_gateway

OPERATOR = Principal("bench-operator", Role.OPERATOR, "BENCH", frozenset(ROLE_SCOPES[Role.OPERATOR]))


async def _timed(read: Callable[[], Awaitable[Any]], runs: int) -> tuple[list[float], Any]:
    seconds, answer = [], None
    for _ in range(runs):
        start = time.perf_counter()
        answer = await read()
        seconds.append(round(time.perf_counter() - start, 3))
    return seconds, answer


async def time_reads(gw: Gateway, runs: int) -> dict[str, Any]:
    """The three reads, each `runs` times: seconds per run and the size of the answer."""
    now = gw.clock()
    kpi_s, report = await _timed(lambda: build_report(gw, OPERATOR, period=Period.containing(now)), runs)
    risk_s, worklist_ = await _timed(lambda: worklist(gw, OPERATOR, as_of=uk_date(now)), runs)
    overview_s, summary = await _timed(lambda: overview(gw, OPERATOR), runs)
    return {
        "kpi_month": {"seconds": kpi_s, "cells": len(report.cells)},
        "at_risk": {"seconds": risk_s, "rows": len(worklist_.rows)},
        "overview": {"seconds": overview_s, "providers": len(summary["providers"]), "trusts": len(summary["trusts"])},
    }


async def _run(database_url: str, data_dir: Path, factor: float, runs: int) -> dict[str, Any]:
    upgrade(database_url)
    gw = build_gateway(Settings(data_dir=data_dir, database_url=database_url, mode="test"))
    try:
        for ods in PROVIDERS:
            await admin.add_provider(gw, ods=ods, name=f"Generated homecare provider {ods}", mode="pull")
        dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        start = time.perf_counter()
        counts = await asyncio.to_thread(fill, dsn, gw.cipher, gw.clock(), factor)
        generated = {**counts, "factor": factor, "seconds": round(time.perf_counter() - start, 1)}
        return {"generated": generated, "reads": await time_reads(gw, runs)}
    finally:
        await gw.close()


def scale_figures(postgres_url: str, *, factor: float, keep: bool, runs: int = 2) -> dict[str, Any]:
    """Generate the store at `factor` in a scratch database and time the three reads."""
    data_dir = Path(tempfile.mkdtemp(prefix="hgw_scale_"))
    try:
        with scratch_database(postgres_url, "hgw_scale", keep=keep) as scratch:
            figures = asyncio.run(_run(scratch, data_dir, factor, runs))
            if keep:
                figures["kept"] = {"database_url": scratch, "data_dir": str(data_dir)}
            return figures
    except PostgresUnreachable as exc:
        return {"skipped": f"PostgreSQL unreachable: {exc}".strip()}
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)

