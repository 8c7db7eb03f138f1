"""`hgw bench --quick` as a subprocess: every part runs, small, and the summary carries issue 19's fixed keys.

The figures are printed for whoever reads the CI log; they are never asserted (the machine is shared)."""

from __future__ import annotations

import json

import pytest

from gateway.bench_summary import SUMMARY_KEYS
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
    # Every run measures every key: a part that silently stopped measuring would show here as a null.
    assert all(value is not None for value in summary.values()), summary
    assert figures["delivery"]["push_open_loop"]["offered_per_second"] == 1000
    assert figures["quick"] is True
    print(json.dumps(summary))
