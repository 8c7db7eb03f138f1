"""HL7 v2 through the gateway: over HTTP (ACK in the answer) and over the MLLP listener `hgw serve` starts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from sqlalchemy import text

from gateway.app import start_mllp
from gateway.context import Gateway
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.wiring import build_gateway
from tests.paths import DATA

HL7 = "x-application/hl7-v2+er7"
VALID = (DATA / "hl7v2" / "valid_order" / "input.hl7").read_bytes()
INVALID = (DATA / "hl7v2" / "invalid_identifiers" / "input.hl7").read_bytes()


def _segments(ack: str) -> list[str]:
    return [s for s in ack.replace("\n", "\r").split("\r") if s]


async def test_hl7_over_http_answers_with_an_ack(as_party: Callable[[str], httpx.AsyncClient]) -> None:
    rhm = as_party("other_trust")  # the sample messages come from trust RHM
    r = await rhm.post("/api/v1/exports", content=VALID, headers={"Content-Type": HL7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["format"] == "hl7v2" and body["prescriptions"][0]["outcome"] in ("accepted", "held")
    assert any(s.startswith("MSA|AA") for s in _segments(body["hl7_ack"]))
    raw = await rhm.post("/api/v1/exports", content=INVALID, headers={"Content-Type": HL7, "Accept": HL7})
    assert raw.headers["content-type"].startswith(HL7)
    segments = _segments(raw.text)
    assert any(s.startswith(("MSA|AE", "MSA|AR")) for s in segments)
    assert any(s.startswith("ERR|") and "PID-3" in s for s in segments)


async def test_mllp_listener_ingests_and_acknowledges(settings: Settings) -> None:
    gw: Gateway = build_gateway(settings.model_copy(update={"mllp_port": 0, "mllp_trust_ods": "RHM"}))
    await configure_sample_directory(gw)  # the trust's organisation and team contact
    server = await start_mllp(gw)
    assert server is not None
    try:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        acks = []
        for message in (VALID, INVALID):
            writer.write(b"\x0b" + message + b"\x1c\r")
            await writer.drain()
            frame = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), timeout=30)
            acks.append(frame.strip(b"\x0b\x1c\r").decode())
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    assert any(s.startswith("MSA|AA") for s in _segments(acks[0]))
    assert any(s.startswith(("MSA|AE", "MSA|AR")) for s in _segments(acks[1]))
    async with gw.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT trust_ods, count(*) FROM prescription GROUP BY trust_ods"))).all()
        payloads = (await conn.execute(text("SELECT count(*) FROM inbound_payload"))).scalar()
    await gw.close()
    assert [tuple(r) for r in stored] == [("RHM", 1)]
    assert payloads == 2  # both raw payloads kept, the rejected one too
