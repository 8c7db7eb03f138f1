"""The suites by name, and how each reads its target: the mode it runs in, how to probe it, what to set up."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from conformance.context import SuiteContext
from conformance.errors import UsageError
from conformance.model import Suite
from conformance.runner import Probe, http_probe

Session = Callable[[SuiteContext, str], contextlib.AbstractAsyncContextManager[Any]]


@contextlib.asynccontextmanager
async def _nothing(ctx: SuiteContext, mode: str) -> AsyncIterator[None]:
    yield


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    suite: Suite
    mode: Callable[[str], str]
    """The mode a target selects (e.g. "push" for an http URL, "pull" for listen://host:port)."""
    session: Session = _nothing
    """Set up around the run (a listener), given the context and mode."""
    required_parties: tuple[str, ...] = ()
    """Preset parties without which the suite cannot certify anything."""

    def probe(self, mode: str) -> Probe | None:
        return http_probe if mode in ("http", "push") else None


def _http_only(target: str) -> str:
    if not target.startswith(("http://", "https://")):
        raise UsageError(f"--target must be the gateway's base URL (http:// or https://), not {target!r}")
    return "http"


def suite_spec(name: str) -> SuiteSpec:
    if name == "gateway":
        from conformance.suites import gateway_errors as gateway_errors  # registers GW-CANCEL and GW-ERR
        from conformance.suites.gateway import SUITE as GATEWAY

        return SuiteSpec(GATEWAY, _http_only, required_parties=("trust", "provider"))
    if name == "provider":
        from conformance.suites import provider as provider
        from conformance.suites import provider_billing as provider_billing  # registers PRV-BILL

        return SuiteSpec(provider.SUITE, provider.mode_of, provider.session)
    if name == "trust":
        from conformance.suites import trust as trust

        return SuiteSpec(trust.SUITE, trust.mode_of, trust.session)
    raise UsageError(f"unknown suite {name!r} (gateway, provider or trust)")
