"""Conformance suites for integration testers: certify a trust system, a provider endpoint or a gateway.

`hgw conformance run|rerun|compare|check-file|preset` (cli.py); docs/conformance.md. A suite (suites/) is
groups of tests with stable ids, each checking requirements of the catalogue (requirements.py); the runner
(runner.py) captures every exchange (capture.py) and rolls the results up (model.py) into the reports
(reports.py, html_report.py) and a saved session (sessions.py).
"""
