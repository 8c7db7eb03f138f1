"""Suites, groups and tests; what a test finds and how results roll up into a verdict and an exit code.

Roll-up (docs/conformance.md):

- a check against a **SHALL** requirement that does not hold makes the test **fail**;
- a check against a **SHOULD** requirement that does not hold is a **warning**: the test still passes;
- a test the tool could not complete (an unexpected exception in the suite) is an **error**;
- a test whose precondition is missing (no second party in the preset, an earlier step failed) is a **skip**.

The run fails if any test failed; exit codes are in `ExitCode`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

from conformance.errors import CheckFailed, Skipped

if TYPE_CHECKING:
    from conformance.context import SuiteContext

Outcome = Literal["pass", "fail", "skip", "error"]
Level = Literal["SHALL", "SHOULD"]
T = TypeVar("T")


class ExitCode(enum.IntEnum):
    """What `hgw conformance` exits with."""

    PASSED = 0
    """Every selected test passed or was skipped (SHOULD warnings allowed)."""
    FAILED = 1
    """At least one test failed."""
    USAGE = 2
    """Bad options, an unreadable preset, file or session: nothing was run."""
    UNREACHABLE = 3
    """The target could not be reached at all."""
    INCOMPLETE = 4
    """No test failed, but at least one ended in error: the run proves nothing about those."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One testable statement, traced to where it is written down."""

    id: str
    level: Level
    text: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "level": self.level, "text": self.text, "source": self.source}


@dataclass(frozen=True, slots=True)
class Finding:
    """A check that did not hold: which requirement, where (FHIRPath, line/column, XPath, HL7 field), what."""

    requirement: str
    level: Level
    message: str
    location: str | None = None

    @property
    def severity(self) -> str:
        return "failure" if self.level == "SHALL" else "warning"

    def as_dict(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "level": self.level,
            "severity": self.severity,
            "location": self.location,
            "message": self.message,
        }


TestFunction = Callable[["SuiteContext", "TestRun"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TestCase:
    id: str
    group: str
    title: str
    requirements: tuple[str, ...]
    run: TestFunction
    depends: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    """Target kinds the test applies to (empty: all); the suite decides the kind from the target URL."""


@dataclass(slots=True)
class Group:
    id: str
    title: str
    tests: list[TestCase] = field(default_factory=list)

    def test(
        self,
        test_id: str,
        title: str,
        *,
        requirements: Iterable[str],
        depends: Iterable[str] = (),
        modes: Iterable[str] = (),
    ) -> Callable[[TestFunction], TestFunction]:
        """Register the decorated coroutine as test `test_id` of this group."""

        def register(fn: TestFunction) -> TestFunction:
            self.tests.append(TestCase(test_id, self.id, title, tuple(requirements), fn, tuple(depends), tuple(modes)))
            return fn

        return register


@dataclass(slots=True)
class Suite:
    name: str
    title: str
    groups: list[Group] = field(default_factory=list)

    def group(self, group_id: str, title: str) -> Group:
        group = Group(group_id, title)
        self.groups.append(group)
        return group

    def tests(self) -> list[TestCase]:
        return [t for g in self.groups for t in g.tests]


@dataclass(slots=True)
class TestRun:
    """What one test collects while it runs; the runner turns it into a `TestResult`."""

    case: TestCase
    catalogue: dict[str, Requirement]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, ok: bool, requirement: str, message: str, location: str | None = None) -> bool:
        """Record a finding when `ok` is false; returns `ok`."""
        if not ok:
            level = self.catalogue[requirement].level
            self.findings.append(Finding(requirement, level, message, location))
        return ok

    def require(self, ok: bool, requirement: str, message: str, location: str | None = None) -> None:
        """Like `check`, and stop the test when it fails."""
        if not ok:
            self.fail(requirement, message, location)

    def require_value(self, value: T | None, requirement: str, message: str, location: str | None = None) -> T:
        """`value`, or (when it is None) a finding and the test stops, like `require`."""
        if value is None:
            self.fail(requirement, message, location)
        return value

    def fail(self, requirement: str, message: str, location: str | None = None) -> NoReturn:
        """Record a finding against `requirement` and stop the test."""
        self.check(False, requirement, message, location)
        raise CheckFailed(message)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def skip(self, reason: str) -> NoReturn:
        raise Skipped(reason)


@dataclass(slots=True)
class TestResult:
    id: str
    group: str
    title: str
    requirements: tuple[str, ...]
    outcome: Outcome
    message: str
    findings: list[Finding]
    notes: list[str]
    duration_ms: float
    exchanges: list[int]

    @property
    def warnings(self) -> int:
        return sum(f.level == "SHOULD" for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group,
            "title": self.title,
            "requirements": list(self.requirements),
            "outcome": self.outcome,
            "message": self.message,
            "findings": [f.as_dict() for f in self.findings],
            "notes": self.notes,
            "duration_ms": round(self.duration_ms, 1),
            "exchanges": self.exchanges,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        findings = [Finding(f["requirement"], f["level"], f["message"], f.get("location")) for f in data["findings"]]
        return cls(
            data["id"],
            data["group"],
            data["title"],
            tuple(data["requirements"]),
            data["outcome"],
            data["message"],
            findings,
            list(data.get("notes", [])),
            float(data["duration_ms"]),
            list(data.get("exchanges", [])),
        )


def summarise(results: Iterable[TestResult]) -> dict[str, int]:
    counts = {"pass": 0, "fail": 0, "skip": 0, "error": 0, "warnings": 0}
    for r in results:
        counts[r.outcome] += 1
        counts["warnings"] += r.warnings
    return counts


def exit_code(results: list[TestResult], *, unreachable: bool = False) -> ExitCode:
    """The roll-up of a run: failures first, then an unreachable target, then errors."""
    counts = summarise(results)
    if counts["fail"]:
        return ExitCode.FAILED
    if unreachable:
        return ExitCode.UNREACHABLE
    if counts["error"]:
        return ExitCode.INCOMPLETE
    return ExitCode.PASSED


VERDICTS = {
    ExitCode.PASSED: "pass",
    ExitCode.FAILED: "fail",
    ExitCode.USAGE: "usage-error",
    ExitCode.UNREACHABLE: "unreachable",
    ExitCode.INCOMPLETE: "incomplete",
}
