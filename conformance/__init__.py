"""Conformance suites for integration testers: certify a trust system, a provider endpoint or a gateway.

`hgw conformance run|rerun|compare|check-file|preset` (cli.py); docs/conformance.md. A suite (suites/) is
groups of tests with stable ids, each checking requirements of the catalogue (requirements.py); the runner
(runner.py) captures every exchange (capture.py) and rolls the results up (model.py) into the reports
(reports.py, html_report.py) and a saved session (sessions.py).

The kit stands apart from the gateway it certifies (docs/conformance.md, "Independence"): targets over HTTP with its
own client (client_auth.py), the gateway's signatures checked by its own RFC 8785 code (signatures.py), parties set
up with `hgw` subprocesses (setup.py), the parties' own messages (parties/) and the gateway's EPS sample shipped as
data (data/sample_messages.json, orders.py); the import-linter contract `conformance` names what it may import.
"""
