"""The provider suite against the reference simulators, and against providers broken on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from conformance.cli import execute
from conformance.context import SuiteContext
from conformance.parties import provider_messages as msg
from conformance.runner import RunResult, run_suite
from conformance.suites import suite_spec
from gateway.invoicing.claim import MISSING_ENDORSEMENT
from gateway.security.client_auth import ClientKey
from gateway.security.client_keys import generate_client_keypair
from gateway.simulate.invoices import claim
from gateway.simulate.parties import party_client
from gateway.simulate.provider import BillingSimulatedProvider, SimulatedProvider
from gateway.simulate.provider_endpoint import SimulatedProviderEndpoint
from tests.conftest import running
from tests.integration.test_push_mtls import _cert, _key, _write


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    async with running(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")) as port:
        yield f"http://127.0.0.1:{port}"


async def _push(app: SimulatedProviderEndpoint) -> RunResult:
    spec = suite_spec("provider")
    async with serve_app(app) as url:
        target = f"{url}/FHIR/R4/$process-message"
        ctx = SuiteContext(target, timeout=10, options={"provider_ods": app.ods}, out=lambda _: None)
        return await run_suite(spec.suite, ctx, mode=spec.mode(target), probe=spec.probe("push"))


def _outcomes(result: RunResult) -> dict[str, str]:
    return {r.id: r.outcome for r in result.results}


async def test_reference_push_provider_passes() -> None:
    app = SimulatedProviderEndpoint("VNPSH")
    result = await _push(app)
    assert _outcomes(result) == {f"PRV-ORDER-00{n}": "pass" for n in range(1, 6)}
    assert result.exit_code == 0
    # The order (of two items: a medicine and its ancillary) and its cancellation, one message per line item; the
    # resend had no second effect.
    assert app.effects == 1 + 2


class WrongIdProvider(SimulatedProviderEndpoint):
    """Acknowledges every order, but names the wrong message."""

    def answer(self, bundle: dict[str, Any], message_id: str, event: str) -> tuple[int, dict[str, Any]]:
        return 200, msg.acknowledgement(self.ods, "d9a6c0f2-5c2a-4b07-9a3e-000000000000", self.source)


class OkToAnythingProvider(SimulatedProviderEndpoint):
    """Answers ok to every message, valid or not."""

    def answer(self, bundle: dict[str, Any], message_id: str, event: str) -> tuple[int, dict[str, Any]]:
        return 200, msg.acknowledgement(self.ods, message_id, self.source)


async def test_provider_acknowledging_the_wrong_message_fails() -> None:
    result = await _push(WrongIdProvider())
    first = next(r for r in result.results if r.id == "PRV-ORDER-001")
    assert first.outcome == "fail"
    assert [(f.requirement, f.location) for f in first.findings] == [
        ("PRV-MSG-2", "Bundle.entry[0].resource.response.identifier")
    ]
    assert result.exit_code == 1


async def test_provider_answering_ok_to_an_invalid_bundle_fails() -> None:
    result = await _push(OkToAnythingProvider())
    outcomes = _outcomes(result)
    assert outcomes["PRV-ORDER-001"] == "pass"
    bad = next(r for r in result.results if r.id == "PRV-ORDER-003")
    assert bad.outcome == "fail"
    assert bad.findings[0].requirement == "PRV-BAD-1"
    assert bad.findings[0].location == "Bundle.entry[0].resource.response.code"
    assert "identifier[0].value" in bad.findings[0].message  # names where the order was broken
    assert result.exit_code == 1


async def test_unreachable_provider_exits_3() -> None:
    spec = suite_spec("provider")
    target = "http://127.0.0.1:9/FHIR/R4/$process-message"  # discard port: nothing listens
    ctx = SuiteContext(target, timeout=2, out=lambda _: None)
    result = await run_suite(spec.suite, ctx, mode="push", probe=spec.probe("push"))
    assert result.exit_code == 3
    assert {r.outcome for r in result.results} == {"error"}


async def _pull(ctx: SuiteContext, provider: type[SimulatedProvider]) -> RunResult:
    """Run the provider suite in pull mode against `provider` polling the suite's listener as soon as it is up."""
    spec = suite_spec("provider")
    pem, _, kid = generate_client_keypair("ES384")
    stop = asyncio.Event()

    async def provider_when_listening() -> None:
        async with asyncio.timeout(10):
            while "listen_url" not in ctx.state:
                await asyncio.sleep(0.01)
        async with party_client(ctx.state["listen_url"], ClientKey("any-client", pem, kid)) as client:
            await provider(client, "VNFKT").run(interval=0.05, stop=stop)

    polling = asyncio.create_task(provider_when_listening())
    async with spec.session(ctx, "pull"):
        result = await run_suite(spec.suite, ctx, mode="pull")
        stop.set()
        await polling  # while the listener is still up: the provider finishes what it was sending
    return result


async def test_polling_reference_provider_passes() -> None:
    lines: list[str] = []
    ctx = SuiteContext("listen://127.0.0.1:0", timeout=60, options={"provider_ods": "VNFKT"}, out=lines.append)
    result = await _pull(ctx, BillingSimulatedProvider)
    expected = {f"PRV-PULL-00{n}": "pass" for n in range(1, 5)} | {"PRV-BILL-001": "pass", "PRV-BILL-002": "pass"}
    assert _outcomes(result) == expected, lines
    assert not [f for r in result.results for f in r.findings], lines
    inbound = [e for e in result.exchanges if e.direction == "inbound"]
    assert any(e.url.endswith("/Task/$release") for e in inbound)
    assert all(e.request_headers.get("authorization") in (None, "[redacted]") for e in inbound)


class UnendorsedClaimProvider(BillingSimulatedProvider):
    """Claims for what it delivered, but with no endorsement: EPS refuses such a claim, and so does the gateway."""

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        if path.endswith("/Claim"):
            body = claim(msg.order_facts(self.order), self.ods, endorsed=False)
        return await super()._post(path, body)

    async def fulfil(self, order: dict[str, Any]) -> None:
        self.order = order
        await super().fulfil(order)


async def test_polling_provider_whose_claim_eps_would_refuse_fails_billing() -> None:
    ctx = SuiteContext("listen://127.0.0.1:0", timeout=60, options={"provider_ods": "VNFKT"}, out=lambda _: None)
    result = await _pull(ctx, UnendorsedClaimProvider)
    billed = next(r for r in result.results if r.id == "PRV-BILL-001")
    assert billed.outcome == "fail"
    assert [f.message for f in billed.findings][0] == MISSING_ENDORSEMENT
    assert next(r for r in result.results if r.id == "PRV-BILL-002").outcome == "skip"


class WrongAckPollingProvider(SimulatedProvider):
    """Polls properly, but acknowledges with its own message id instead of the order's."""

    async def fulfil(self, order: dict[str, Any]) -> None:
        await self._post("/FHIR/R4/$process-message", msg.acknowledgement(self.ods, str(order["id"])[::-1], "x"))


async def test_polling_provider_acknowledging_the_wrong_order_fails() -> None:
    ctx = SuiteContext("listen://127.0.0.1:0", timeout=3, options={"provider_ods": "VNFKT"}, out=lambda _: None)
    result = await _pull(ctx, WrongAckPollingProvider)
    ack = next(r for r in result.results if r.id == "PRV-PULL-002")
    assert ack.outcome == "fail"
    assert ("PRV-MSG-2", "Bundle.entry[0].resource.response.identifier") in [
        (f.requirement, f.location) for f in ack.findings
    ]
    assert result.exit_code == 1


async def test_push_provider_behind_mutual_tls(tmp_path: Path) -> None:
    """With --client-cert/--client-key/--ca-cert the suite reaches a provider that demands a client certificate;
    without them the provider is unreachable (exit 3)."""
    ca_key = _key()
    ca = _cert("Test Provider CA", ca_key, None, ca=True)
    _write(tmp_path / "ca.pem", ca)
    server_key, client_key = _key(), _key()
    _write(
        tmp_path / "server.crt", _cert("127.0.0.1", server_key, ("Test Provider CA", ca_key), server=True), server_key
    )
    _write(tmp_path / "client.crt", _cert("conformance", client_key, ("Test Provider CA", ca_key)), client_key)
    config = uvicorn.Config(
        SimulatedProviderEndpoint("VNPSH"), host="127.0.0.1", port=0, log_level="warning", lifespan="off",
        ssl_certfile=str(tmp_path / "server.crt"), ssl_keyfile=str(tmp_path / "server.key"),
        ssl_ca_certs=str(tmp_path / "ca.pem"), ssl_cert_reqs=ssl.CERT_REQUIRED,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    target = f"https://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/FHIR/R4/$process-message"
    base = {"suite": "provider", "target": target, "timeout": 5, "options": {"provider_ods": "VNPSH"}}
    try:
        tls = {"client_cert": str(tmp_path / "client.crt"), "client_key": str(tmp_path / "client.key"),
               "ca_cert": str(tmp_path / "ca.pem")}  # fmt: skip
        with_cert = await execute(base | {"tls": tls}, out=lambda _: None)
        without = await execute(base | {"tls": {"ca_cert": str(tmp_path / "ca.pem")}}, out=lambda _: None)
    finally:
        server.should_exit = True
        await task
    assert with_cert["exit_code"] == 0, with_cert["tests"]
    assert without["exit_code"] == 3 and without["unreachable"]
