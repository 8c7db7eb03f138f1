"""What operators see of a running gateway: Prometheus metrics, worker heartbeats for readiness.

`telemetry.Telemetry` lives on the `Gateway` (one per gateway, so tests never share counters); the delivery code
records into its `metrics`, the workers beat its heartbeats, and `GET /metrics` (`http.py`) renders the
in-process instruments together with gauges read from the database at scrape time (`collector.py`).
See docs/observability.md.
"""
