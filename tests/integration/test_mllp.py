"""The MLLP listener on a real loopback socket: framing, one ACK per message in order, and what goes wrong."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.ack import render_ack
from adapters.hl7v2.er7 import Segment, parse_segments
from adapters.hl7v2.mllp import Handler, serve_mllp

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
ORDER = (Path(__file__).parents[1] / "data" / "hl7v2" / "valid_order" / "input.hl7").read_bytes()
SECOND = ORDER.replace(b"|MSG00001|", b"|MSG00002|")
ADAPTER = Hl7v2Adapter(clock=lambda: datetime(2026, 11, 22, 9, 30, tzinfo=UTC))


async def parse_and_ack(payload: bytes) -> bytes:
    return render_ack(await asyncio.to_thread(ADAPTER.parse, payload))


@contextlib.asynccontextmanager
async def listener(handle: Handler = parse_and_ack, **options: float) -> AsyncIterator[int]:
    server = await serve_mllp("127.0.0.1", 0, handle, **options)  # type: ignore[arg-type]
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def connect(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def frame(payload: bytes) -> bytes:
    return VT + payload + FS + CR


async def read_ack(reader: asyncio.StreamReader) -> list[Segment]:
    async with asyncio.timeout(10):
        block = await reader.readuntil(FS + CR)
    assert block.startswith(VT)
    return parse_segments(block[1:-2].decode().rstrip("\r").split("\r"))


def msa(ack: list[Segment]) -> tuple[str, str]:
    return ack[1].value(1), ack[1].value(2)


async def test_a_message_is_answered_with_its_ack() -> None:
    async with listener() as port, connect(port) as (reader, writer):
        writer.write(frame(ORDER))
        await writer.drain()

        ack = await read_ack(reader)

    assert ack[0].value(9, 1, 1) == "ACK"
    assert msa(ack) == ("AA", "MSG00001")


async def test_partial_frames_are_put_together() -> None:
    data = frame(ORDER)
    async with listener() as port, connect(port) as (reader, writer):
        for i in range(0, len(data), 7):
            writer.write(data[i : i + 7])
            await writer.drain()

        assert msa(await read_ack(reader)) == ("AA", "MSG00001")


async def test_each_frame_gets_one_ack_in_order_and_garbage_none() -> None:
    async with listener() as port, connect(port) as (reader, writer):
        writer.write(b"\r\nnoise" + frame(ORDER) + b"\x00\xffmore noise" + frame(SECOND))
        await writer.drain()

        first, second = await read_ack(reader), await read_ack(reader)
        writer.write_eof()
        async with asyncio.timeout(10):
            rest = await reader.read()

    assert (msa(first), msa(second), rest) == (("AA", "MSG00001"), ("AA", "MSG00002"), b"")


async def test_an_invalid_message_is_answered_ae_with_err_segments() -> None:
    async with listener() as port, connect(port) as (reader, writer):
        writer.write(frame(ORDER.replace(b"9434765919", b"9434765918")))
        await writer.drain()

        ack = await read_ack(reader)

    assert msa(ack) == ("AE", "MSG00001")
    [err] = [s for s in ack if s.id == "ERR"]
    assert (err.value(2, 1, 1), err.value(2, 1, 3), err.value(5)) == ("PID", "3", "INVALID_NHS_NUMBER")


async def test_an_oversized_frame_is_answered_ar_and_the_connection_goes_on() -> None:
    big = ORDER + b"NTE|||" + b"x" * 50_000 + b"\r"
    async with listener(max_frame_bytes=len(ORDER) + 100) as port, connect(port) as (reader, writer):
        writer.write(frame(big) + frame(SECOND))
        await writer.drain()

        refused, accepted = await read_ack(reader), await read_ack(reader)

    assert msa(refused) == ("AR", "MSG00001")
    assert [s.value(5) for s in refused if s.id == "ERR"] == ["FRAME_TOO_LARGE"]
    assert msa(accepted) == ("AA", "MSG00002")


async def test_a_failing_handler_is_answered_ar_and_the_connection_goes_on() -> None:
    calls = 0

    async def flaky(payload: bytes) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database unavailable")
        return await parse_and_ack(payload)

    async with listener(flaky) as port, connect(port) as (reader, writer):
        writer.write(frame(ORDER))
        await writer.drain()
        failed = await read_ack(reader)
        writer.write(frame(ORDER))
        await writer.drain()
        retried = await read_ack(reader)

    assert msa(failed) == ("AR", "MSG00001")
    assert [s.value(5) for s in failed if s.id == "ERR"] == ["PROCESSING_FAILED"]
    assert msa(retried) == ("AA", "MSG00001")


async def test_an_idle_connection_is_closed() -> None:
    async with listener(idle_timeout=0.2) as port, connect(port) as (reader, _):
        async with asyncio.timeout(10):
            assert await reader.read() == b""


async def test_a_client_leaving_mid_frame_does_not_harm_the_next() -> None:
    async with listener() as port:
        async with connect(port) as (_, writer):
            writer.write(frame(ORDER)[:100])
            await writer.drain()
        async with connect(port) as (reader, writer):
            writer.write(frame(SECOND))
            await writer.drain()

            assert msa(await read_ack(reader)) == ("AA", "MSG00002")


async def test_connections_are_served_side_by_side() -> None:
    async def exchange(port: int, payload: bytes) -> tuple[str, str]:
        async with connect(port) as (reader, writer):
            writer.write(frame(payload))
            await writer.drain()
            return msa(await read_ack(reader))

    async with listener() as port:
        answers = await asyncio.gather(
            *(exchange(port, ORDER.replace(b"MSG00001", f"MSG{i:05d}".encode())) for i in range(5))
        )

    assert sorted(answers) == [("AA", f"MSG{i:05d}") for i in range(5)]
