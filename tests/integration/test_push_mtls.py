"""Outbound mTLS: a provider endpoint that demands a client certificate gets the one provisioned for it."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from conformance.parties import provider_messages as msg
from gateway.context import Gateway
from gateway.delivery.push import PushRelay
from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.wiring import build_gateway
from tests.conftest import running, serve
from tests.integration.helpers import export, post_export

ODS = "VNMTL"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


@contextlib.asynccontextmanager
async def _tls_provider(tmp: Path, received: list[str]) -> AsyncIterator[str]:
    """A provider endpoint on loopback over TLS that refuses any client without a certificate from its CA."""
    ca_key = _key()
    ca = _cert("Test Provider CA", ca_key, None, ca=True)
    server_key = _key()
    _write(tmp / "ca.pem", ca)
    _write(tmp / "server.crt", _cert("127.0.0.1", server_key, ("Test Provider CA", ca_key), server=True), server_key)
    client_key = _key()
    _write(tmp / "client.crt", _cert("homecare-gateway", client_key, ("Test Provider CA", ca_key)), client_key)

    app = FastAPI()

    @app.post("/FHIR/R4/$process-message")
    async def process(request: Request) -> Response:
        bundle = json.loads(await request.body())
        received.append(bundle["entry"][0]["resource"]["id"])
        return JSONResponse(
            msg.acknowledgement(ODS, received[-1], "https://provider.example"), media_type="application/fhir+json"
        )

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ssl_certfile=str(tmp / "server.crt"),
        ssl_keyfile=str(tmp / "server.key"),
        ssl_ca_certs=str(tmp / "ca.pem"),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    async with running(config) as port:
        yield f"https://127.0.0.1:{port}/FHIR/R4/$process-message"


async def _gateway(settings: Settings, endpoint: str, tls_dir: Path | None) -> Gateway:
    gw = build_gateway(settings.model_copy(update={"provider_tls_dir": tls_dir, "push_workers": 0}))
    await admin.add_provider(gw, ods=ODS, name="mTLS homecare provider", mode="push", endpoint=endpoint)
    await configure_sample_directory(gw)
    await admin.add_route(gw, provider_ods=ODS)
    return gw


async def push_round_with_client_certificate(
    settings: Settings, tmp_path: Path, endpoint: str, *, prescriptions: int, seed: int
) -> list[Any]:
    """A trust's export of `prescriptions` pushed to `endpoint` in one relay round, with the provider's client
    certificate (`tmp_path`'s) in its TLS folder; the round's results."""
    tls_dir = tmp_path / "provider-tls"
    (tls_dir / ODS).mkdir(parents=True)
    for name in ("client.crt", "client.key", "ca.pem"):
        (tls_dir / ODS / name).write_bytes((tmp_path / name).read_bytes())
    gw = await _gateway(settings, endpoint, tls_dir)
    try:
        key = await register_party(gw, "trust", "RBA")
        async with serve(gw) as base, party_client(base, key) as trust:
            assert (await post_export(trust, export(prescriptions, seed=seed))).status_code == 200
        async with PushRelay.open(gw) as relay:
            return list(await relay.run_once())
    finally:
        await gw.close()


async def test_push_presents_the_providers_client_certificate(settings: Settings, tmp_path: Path) -> None:
    received: list[str] = []
    async with _tls_provider(tmp_path, received) as endpoint:
        results = await push_round_with_client_certificate(settings, tmp_path, endpoint, prescriptions=1, seed=81)
    assert [r.outcome for r in results] == ["delivered"]
    assert received == [results[0].message_id]


async def test_without_the_certificate_the_provider_refuses_the_connection(settings: Settings, tmp_path: Path) -> None:
    received: list[str] = []
    async with _tls_provider(tmp_path, received) as endpoint:
        # The CA is trusted (so the server is authenticated), but no client certificate is provisioned.
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        async with httpx.AsyncClient(verify=context) as bare:
            with contextlib.suppress(httpx.HTTPError):
                await bare.post(endpoint, content=b"{}")
        assert received == []
