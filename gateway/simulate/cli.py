"""`hgw simulate …`: reference simulators of the other side: a polling provider, a trust posting an export, and a
push provider's endpoint (gateway/simulate/provider_endpoint.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from gateway.cli_support import PLAIN


@click.group()
def simulate() -> None:
    """Reference simulators of the other side."""


@simulate.command("provider")
@click.option("--gateway", "gateway_url", required=True, help="Base URL of the gateway.")
@click.option("--ods", required=True, help="The provider's ODS code.")
@click.option("--client-id", required=True, help="The provider's registered client id.")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The private key file from `hgw clients keygen`.",
)
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between empty polls.")
def simulate_provider(gateway_url: str, ods: str, client_id: str, key_file: Path, interval: float) -> None:
    """Poll, acknowledge, dispense and deliver, until Ctrl-C."""
    from gateway.simulate.provider import SimulatedProvider

    async def main() -> None:
        async with _authenticated(gateway_url, client_id, key_file) as client:
            await SimulatedProvider(client, ods).run(interval=interval)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


@simulate.command("trust")
@click.option("--gateway", "gateway_url", required=True, help="Base URL of the gateway.")
@click.option("--count", type=int, default=5, show_default=True, help="Prescriptions in the export.")
@click.option("--trust", "trust_ods", default="RBA", show_default=True)
@click.option("--provider", "provider_ods", help="ProviderODS to put on every row (blank: routing decides).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--client-id", required=True, help="The trust's registered client id.")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The private key file from `hgw clients keygen`.",
)
def simulate_trust(
    gateway_url: str, count: int, trust_ods: str, provider_ods: str | None, seed: int, client_id: str, key_file: Path
) -> None:
    """Post one generated JAC export and print the gateway's answer."""
    from gateway.simulate.trust import post_sample_export

    async def main() -> dict[str, Any]:
        async with _authenticated(gateway_url, client_id, key_file) as client:
            return await post_sample_export(client, count, seed=seed, trust_ods=trust_ods, provider_ods=provider_ods)

    PLAIN.emit(asyncio.run(main()))


@simulate.command("provider-endpoint")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8090, show_default=True)
@click.option("--ods", default="VNPSH", show_default=True, help="The provider's ODS code, as the sender of answers.")
def provider_endpoint(host: str, port: int, ods: str) -> None:
    """A push provider's $process-message: validates orders, acknowledges, refuses bad ones; until Ctrl-C.

    Register it with `hgw providers add --mode push --endpoint http://HOST:PORT/FHIR/R4/$process-message`, or
    certify the suite against it: `hgw conformance run --suite provider --target …/$process-message`.
    """
    import uvicorn

    from gateway.simulate.provider_endpoint import SimulatedProviderEndpoint

    click.echo(f"simulated provider {ods}: POST http://{host}:{port}/FHIR/R4/$process-message")
    uvicorn.run(SimulatedProviderEndpoint(ods), host=host, port=port, log_level="warning", lifespan="off")


def _authenticated(gateway_url: str, client_id: str, key_file: Path) -> Any:
    import httpx

    from gateway.security.client_auth import ClientCredentialsAuth, read_client_key

    auth = ClientCredentialsAuth(read_client_key(key_file, client_id), f"{gateway_url.rstrip('/')}/oauth2/token")
    return httpx.AsyncClient(base_url=gateway_url, timeout=60, auth=auth)


@simulate.command("answer-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(["jac", "ascribe", "hl7v2", "fhir"]),
              help="The export's format.")  # fmt: skip
@click.option("--provider", required=True, help="Provider ODS for prescriptions that name none.")
@click.option("--bundles", is_flag=True, help="Keep each accepted prescription's (first) EPS bundle in its outcome.")
def answer_export(file: Path, fmt: str, provider: str, bundles: bool) -> None:
    """What the gateway answers a trust's export, offline, every organisation it names stood in for (so the answer
    is about the file, not about this gateway's directory): JSON with each prescription's outcome and located
    errors, without the bundles unless asked. The conformance kit's trust suite answers with it, and checks the
    bundles of the prescriptions a trust sent (`--bundles`).

    Exit 0 when every prescription is accepted, 1 when any is rejected, 2 when the file as a whole is rejected.
    """
    import json
    import sys

    from gateway.intake.offline import exit_code, ingest_offline
    from gateway.simulate.directory import stand_in_directory

    document = ingest_offline(file.read_bytes(), fmt, provider_ods=provider, directory=stand_in_directory())
    if not bundles:
        for outcome in document["outcomes"]:
            outcome.pop("bundle", None)
    click.echo(json.dumps(document))
    sys.exit(exit_code(document))


@simulate.command("conformance-samples")
def conformance_samples() -> None:
    """Print the conformance kit's sample messages (one prescription's order and its cancellation, as this gateway
    builds them) as JSON: the content of conformance/data/sample_messages.json, which a test keeps up to date."""
    import json

    from gateway.simulate.eps_samples import conformance_sample

    click.echo(json.dumps(conformance_sample(), indent=1, sort_keys=True))
