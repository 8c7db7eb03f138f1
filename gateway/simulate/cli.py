"""`hgw simulate provider-endpoint`: serve the reference push provider (gateway/simulate/provider_endpoint.py)."""

from __future__ import annotations

import click


@click.command("provider-endpoint")
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
