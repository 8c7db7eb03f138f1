"""`hgw bench --scale` at a tiny factor on PostgreSQL: the generated store is what the gateway's writers leave (its
ciphertext opens with the gateway's key, bound to its row; events numbered in time order; the ordering trigger on
again), the three reads answer from it, and the database is dropped unless kept. No figure is asserted."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.bench.national_reads import scale_figures
from gateway.bench.national_store import PATIENTS_AT_FACTOR_1, TRIGGER
from gateway.bench.summary import summary
from gateway.errors import ConfigurationError
from gateway.settings import Settings
from gateway.store.sealed import prescription_context
from gateway.wiring import build_gateway
from tests.conftest import PG_ADMIN_DSN

URL = PG_ADMIN_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
FACTOR = 0.0004  # 200 patients


def _databases() -> set[str]:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'hgw_scale_%'")}


@pytest.mark.usefixtures("pg_template")  # PostgreSQL must be up (a failure under CI=true)
def test_a_kept_store_is_the_gateways_own_and_answers_the_three_reads() -> None:
    figures = scale_figures(URL, factor=FACTOR, keep=True, runs=1)
    kept = figures["kept"]
    dsn = kept["database_url"].replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        generated = figures["generated"]
        assert generated["patients"] == round(PATIENTS_AT_FACTOR_1 * FACTOR)
        assert generated["prescriptions"] >= 3 * generated["patients"]
        assert generated["lifecycle_events"] >= 8 * generated["prescriptions"]
        reads = figures["reads"]
        assert reads["kpi_month"]["cells"] > 1 and reads["overview"]["providers"] == 12
        assert reads["at_risk"]["rows"] >= 0 and len(reads["at_risk"]["seconds"]) == 1
        assert summary({"national_scale": figures})["kpi_month_s_national"] == reads["kpi_month"]["seconds"][0]
        with psycopg.connect(dsn) as conn:
            _check_store(conn, Path(kept["data_dir"]), kept["database_url"])
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dsn.rsplit("/", 1)[1]}" WITH (FORCE)')
        shutil.rmtree(kept["data_dir"], ignore_errors=True)


def _check_store(conn: psycopg.Connection[Any], data_dir: Path, url: str) -> None:
    (enabled,) = conn.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = %s", (TRIGGER,)).fetchone() or (None,)
    assert enabled == "O"  # the ordering trigger is on again
    (disordered,) = conn.execute(
        "SELECT count(*) FROM lifecycle_event a JOIN lifecycle_event b ON a.prescription_id = b.prescription_id"
        " AND a.id < b.id AND a.at > b.at"
    ).fetchone() or (None,)
    assert disordered == 0
    (next_id,) = conn.execute("SELECT nextval(pg_get_serial_sequence('lifecycle_event', 'id'))").fetchone() or (0,)
    (max_id,) = conn.execute("SELECT max(id) FROM lifecycle_event").fetchone() or (0,)
    assert next_id > max_id
    rows = conn.execute("SELECT id, trust_ods, canonical_enc, nhs_index FROM prescription LIMIT 5").fetchall()
    gw = build_gateway(Settings(data_dir=data_dir, database_url=url, mode="test"))
    try:
        for rx_id, trust, sealed, index in rows:
            opened = gw.cipher.open(sealed, context=prescription_context(rx_id, trust))
            assert b"nhs_number" in opened and b'"nhs_number": "' in opened
            nhs = opened.split(b'"nhs_number": "')[1][:10].decode()
            assert gw.cipher.blind_index(nhs) == index
            with pytest.raises(ConfigurationError):  # bound to its own row
                gw.cipher.open(sealed, context=prescription_context(rx_id, "OTHER"))
    finally:
        asyncio.run(gw.close())


@pytest.mark.usefixtures("pg_template")
def test_the_scratch_store_is_dropped_unless_kept() -> None:
    before = _databases()
    figures = scale_figures(URL, factor=0.0002, keep=False, runs=1)
    assert "kept" not in figures and figures["generated"]["patients"] == 100
    assert _databases() == before
