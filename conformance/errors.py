"""Exceptions of the conformance runner.

ConformanceError
├── UsageError     bad options, preset, file or session: the run cannot start (exit code 2)
├── CheckFailed    a SHALL check failed and the rest of the test cannot go on (the test fails)
└── Skipped        the test's precondition is missing (the test is skipped)

A target's misbehaviour is never an exception out of the runner: it becomes a finding, a failure or an error
outcome of the test it happened in.
"""

from __future__ import annotations


class ConformanceError(Exception):
    """Base of the runner's own exceptions."""


class UsageError(ConformanceError):
    """Bad options, preset, file or session: the run cannot start (exit code 2)."""


class CheckFailed(ConformanceError):
    """Raised by `TestRun.require`: a SHALL check failed and the rest of the test cannot go on."""


class Skipped(ConformanceError):
    """Raised by `TestRun.skip`: the test's precondition is missing."""
