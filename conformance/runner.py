"""Run a suite's selected tests in order, each into a `TestResult`, and roll the run up into an exit code."""

from __future__ import annotations

import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from conformance.capture import Exchange
from conformance.context import SuiteContext
from conformance.errors import CheckFailed, Skipped, UsageError
from conformance.model import (
    VERDICTS,
    ExitCode,
    Outcome,
    Suite,
    TestResult,
    TestRun,
    exit_code,
    summarise,
)
from conformance.requirements import CATALOGUE

Probe = Callable[[SuiteContext], Awaitable[str | None]]


@dataclass(slots=True)
class RunResult:
    """A finished run: what was asked, every test's result and every exchange."""

    suite: str
    title: str
    target: str
    started: str
    finished: str
    results: list[TestResult]
    exchanges: list[Exchange]
    invocation: dict[str, Any] = field(default_factory=dict)
    unreachable: str | None = None

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.results, unreachable=self.unreachable is not None)

    def as_dict(self) -> dict[str, Any]:
        used = sorted({r for t in self.results for r in t.requirements})
        return {
            "schema": "hgw-conformance-report/1",
            "suite": self.suite,
            "title": self.title,
            "target": self.target,
            "started": self.started,
            "finished": self.finished,
            "verdict": VERDICTS[self.exit_code],
            "exit_code": int(self.exit_code),
            "unreachable": self.unreachable,
            "summary": summarise(self.results),
            "invocation": self.invocation,
            "requirements": {rid: CATALOGUE[rid].as_dict() for rid in used},
            "tests": [r.as_dict() for r in self.results],
            "exchanges": [e.as_dict() for e in self.exchanges],
        }


def select(suite: Suite, tests: Iterable[str] = (), groups: Iterable[str] = ()) -> list[str]:
    """The ids to run, in suite order: the named tests and groups plus everything they depend on."""
    wanted_tests, wanted_groups = set(tests), set(groups)
    known = {t.id: t for t in suite.tests()}
    unknown = (wanted_tests - known.keys()) | (wanted_groups - {g.id for g in suite.groups})
    if unknown:
        raise UsageError(f"suite {suite.name} has no test or group {', '.join(sorted(unknown))}")
    if not wanted_tests and not wanted_groups:
        return list(known)
    chosen = {t.id for t in known.values() if t.id in wanted_tests or t.group in wanted_groups}
    pending = list(chosen)
    while pending:
        for dep in known[pending.pop()].depends:
            if dep not in chosen:
                chosen.add(dep)
                pending.append(dep)
    return [t for t in known if t in chosen]


async def run_suite(
    suite: Suite,
    ctx: SuiteContext,
    *,
    only: list[str] | None = None,
    mode: str = "",
    probe: Probe | None = None,
    invocation: dict[str, Any] | None = None,
) -> RunResult:
    """Run `only` (default: every test) of `suite` against `ctx.target`; never raises for a target's misbehaviour."""
    started = datetime.now(UTC).isoformat()
    results: list[TestResult] = []
    chosen = set(only) if only is not None else None
    unreachable = await probe(ctx) if probe is not None else None
    outcomes: dict[str, Outcome] = {}
    try:
        for case in suite.tests():
            if chosen is not None and case.id not in chosen:
                continue
            if case.modes and mode not in case.modes:
                continue
            ctx.recorder.current_test = case.id
            begin = time.perf_counter()
            run = TestRun(case, CATALOGUE)
            outcome, message = await _run_one(outcomes, ctx, run, unreachable)
            outcomes[case.id] = outcome
            ctx.recorder.current_test = None
            results.append(
                TestResult(
                    case.id,
                    case.group,
                    case.title,
                    case.requirements,
                    outcome,
                    message,
                    run.findings,
                    run.notes,
                    (time.perf_counter() - begin) * 1000,
                    ctx.recorder.of_test(case.id),
                )
            )
            ctx.out(_line(results[-1]))
    finally:
        await ctx.aclose()
    return RunResult(
        suite.name,
        suite.title,
        ctx.target,
        started,
        datetime.now(UTC).isoformat(),
        results,
        ctx.recorder.exchanges,
        invocation or {},
        unreachable,
    )


async def _run_one(
    outcomes: dict[str, Outcome], ctx: SuiteContext, run: TestRun, unreachable: str | None
) -> tuple[Outcome, str]:
    if unreachable is not None:
        return "error", f"target unreachable: {unreachable}"
    blocked = [d for d in run.case.depends if outcomes.get(d) != "pass"]
    if blocked:
        return "skip", "needs " + ", ".join(f"{d} ({outcomes.get(d, 'not run')})" for d in blocked)
    try:
        await run.case.run(ctx, run)
    except CheckFailed:
        pass
    except Skipped as exc:
        return "skip", str(exc)
    except httpx.TransportError as exc:
        ctx.recorder.failed(exc)
        run.note(f"transport error: {type(exc).__name__}: {exc}")
        return "error", f"no usable answer from the target ({type(exc).__name__}: {exc})"
    except UsageError:
        raise
    except Exception as exc:  # a bug in the suite, or an answer the suite did not foresee
        run.note("".join(traceback.format_exception(exc, limit=-3)).strip())
        return "error", f"{type(exc).__name__}: {exc}"
    failures = [f for f in run.findings if f.level == "SHALL"]
    if failures:
        first = failures[0]
        where = f" at {first.location}" if first.location else ""
        return "fail", f"{first.requirement}{where}: {first.message}"
    warnings = len(run.findings)
    return "pass", f"passed with {warnings} warning(s)" if warnings else "passed"


_MARK = {"pass": "PASS ", "fail": "FAIL ", "skip": "SKIP ", "error": "ERROR"}


def _line(result: TestResult) -> str:
    text = f"{_MARK[result.outcome]} {result.id:<16} {result.title}"
    if result.outcome in ("skip", "error") or (result.outcome == "fail" and not result.findings):
        text += f"\n      {result.message}"
    for finding in result.findings:
        where = f" [{finding.location}]" if finding.location else ""
        text += f"\n      - {finding.level} {finding.requirement}{where}: {finding.message}"
    return text


async def http_probe(ctx: SuiteContext) -> str | None:
    """None when the target answers anything at all over HTTP; else why it could not be reached."""
    client = ctx.recorder.client(timeout=min(ctx.timeout, 10), verify=ctx.tls)
    try:
        async with client:
            await client.get(ctx.base + "/")
    except httpx.TransportError as exc:
        ctx.recorder.failed(exc)
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None
