"""`hgw bench --scale-out` prints only the scale-out figures, with the summary's fixed keys (null: not measured)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.bench import scale_out
from gateway.bench.summary import SUMMARY_KEYS
from gateway.cli import cli


@pytest.mark.parametrize(("flags", "orders"), [((), 400), (("--quick",), 20), (("--scale-out-orders", "7"), 7)])
def test_scale_out_runs_only_its_figures(monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], orders: int) -> None:
    calls: list[dict[str, Any]] = []

    def figures(postgres_url: str, **sizes: int) -> dict[str, Any]:
        calls.append({"url": postgres_url, **sizes})
        return {"direct": {}, "pgbouncer": {"skipped": "test"}}

    monkeypatch.setattr(scale_out, "scale_out_figures", figures)
    result = CliRunner().invoke(
        cli, ["bench", "--scale-out", *flags, "--postgres-url", "postgresql+psycopg://x@h/db"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert set(printed) == {"quick", "scale_out", "peak_rss_mb", "summary"}
    assert printed["scale_out"] == {"direct": {}, "pgbouncer": {"skipped": "test"}}
    assert tuple(printed["summary"]) == SUMMARY_KEYS
    assert [c["orders"] for c in calls] == [orders] and calls[0]["url"] == "postgresql+psycopg://x@h/db"


def test_unreachable_postgresql_skips_every_set_up() -> None:
    assert scale_out.scale_out_figures("postgresql+psycopg://postgres@127.0.0.1:1/test", orders=1, push_orders=1) == {
        "skipped": "PostgreSQL unreachable"
    }
