"""Conformance suites for integration testers (issue 10); the runner and suites are not built yet."""
