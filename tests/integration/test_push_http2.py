"""HTTP/2 where the provider offers it: a provider endpoint on loopback that speaks only HTTP/2 over TLS (ALPN `h2`)
gets the relay's orders multiplexed on one connection, through the outbound guard, with its client certificate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events

from conformance.parties import provider_messages as msg
from gateway.settings import Settings
from tests.integration.test_push_mtls import ODS, _cert, _key, _write, push_round_with_client_certificate


class H2Provider:
    """`$process-message` over HTTP/2 only (the h2 library, on asyncio streams): answers every order `ok`."""

    def __init__(self) -> None:
        self.protocols: list[str | None] = []  # what each connection's TLS handshake chose
        self.received: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.protocols.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
        connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        connection.initiate_connection()
        writer.write(connection.data_to_send())
        bodies: dict[int, bytes] = {}
        try:
            while data := await reader.read(65536):
                for event in connection.receive_data(data):
                    if isinstance(event, h2.events.DataReceived):
                        bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                        connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        self._answer(connection, event.stream_id, bodies.pop(event.stream_id, b""))
                writer.write(connection.data_to_send())
                await writer.drain()
        except (ConnectionError, h2.exceptions.ProtocolError):
            pass
        finally:
            writer.close()

    def _answer(self, connection: h2.connection.H2Connection, stream_id: int, body: bytes) -> None:
        message_id = json.loads(body)["entry"][0]["resource"]["id"]
        self.received.append(message_id)
        answer = json.dumps(msg.acknowledgement(ODS, message_id, "https://provider.example")).encode()
        headers = [(":status", "200"), ("content-type", "application/fhir+json"), ("content-length", str(len(answer)))]
        connection.send_headers(stream_id, headers)
        connection.send_data(stream_id, answer, end_stream=True)


@contextlib.asynccontextmanager
async def _h2_provider(tmp: Path, provider: H2Provider) -> AsyncIterator[str]:
    """The endpoint, with the provider's CA and the gateway's client certificate written to `tmp`."""
    ca_key = _key()
    ca = _cert("Test Provider CA", ca_key, None, ca=True)
    server_key = _key()
    _write(tmp / "ca.pem", ca)
    _write(tmp / "server.crt", _cert("127.0.0.1", server_key, ("Test Provider CA", ca_key), server=True), server_key)
    client_key = _key()
    _write(tmp / "client.crt", _cert("homecare-gateway", client_key, ("Test Provider CA", ca_key)), client_key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tmp / "server.crt"), str(tmp / "server.key"))
    context.set_alpn_protocols(["h2"])
    server = await asyncio.start_server(provider.handle, "127.0.0.1", 0, ssl=context)
    try:
        yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/FHIR/R4/$process-message"
    finally:
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5)


async def test_a_provider_offering_http2_gets_a_round_multiplexed_on_one_connection(
    settings: Settings, tmp_path: Path
) -> None:
    provider = H2Provider()
    async with _h2_provider(tmp_path, provider) as endpoint:
        results = await push_round_with_client_certificate(settings, tmp_path, endpoint, prescriptions=6, seed=91)
    assert [r.outcome for r in results] == ["delivered"] * 6
    assert sorted(provider.received) == sorted(r.message_id for r in results)
    assert provider.protocols == ["h2"]
