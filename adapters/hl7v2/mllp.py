"""An asyncio MLLP listener: `<VT>` message `<FS><CR>` frames in, one framed answer out per frame, in order.

Framing is done here rather than with `hl7.mllp`, whose reader refuses a whole block when stray bytes precede
`<VT>` and has no way to answer a frame that is too large.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.hl7v2.ack import reject_payload
from adapters.hl7v2.issues import FRAME_TOO_LARGE, PROCESSING_FAILED, located

START_BLOCK, END_BLOCK, CARRIAGE_RETURN = b"\x0b", b"\x1c", b"\r"
DEFAULT_MAX_FRAME_BYTES = 20 * 1024 * 1024
DEFAULT_IDLE_TIMEOUT = 600.0
HEAD_BYTES = 4096  # what is kept of an oversized frame: enough to echo its MSH-10 in the AR
_READ_CHUNK = 64 * 1024

Handler = Callable[[bytes], Awaitable[bytes]]
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Frame:
    payload: bytes


@dataclass(frozen=True, slots=True)
class OversizedFrame:
    head: bytes
    size: int


class FrameDecoder:
    """Sans-I/O MLLP framing: bytes in (any chunking), complete frames out.

    Bytes outside a frame are dropped and counted in `discarded`; a `<VT>` before the frame's `<FS>` abandons the
    frame (counted too) and starts a new one; a frame over `max_frame_bytes` comes out as an `OversizedFrame`
    holding only its first bytes. The `<CR>` after `<FS>` is optional.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.discarded = 0
        self._in_frame = False
        self._after_end = False
        self._buffer = bytearray()
        self._size = 0
        self._oversized = False

    @property
    def in_frame(self) -> bool:
        return self._in_frame

    def feed(self, data: bytes) -> list[Frame | OversizedFrame]:
        frames: list[Frame | OversizedFrame] = []
        i = 0
        if self._after_end and data[:1] == CARRIAGE_RETURN:
            i = 1
        self._after_end = False
        while i < len(data):
            if not self._in_frame:
                start = data.find(START_BLOCK, i)
                self.discarded += (len(data) if start == -1 else start) - i
                if start == -1:
                    break
                self._begin()
                i = start + 1
                continue
            end, restart = data.find(END_BLOCK, i), data.find(START_BLOCK, i)
            if restart != -1 and (end == -1 or restart < end):
                self.discarded += self._size + restart - i + 1  # the abandoned frame, with its <VT>
                self._begin()
                i = restart + 1
                continue
            self._append(data[i:] if end == -1 else data[i:end])
            if end == -1:
                break
            frames.append(self._finish())
            i = end + 1
            if data[i:i + 1] == CARRIAGE_RETURN:
                i += 1
            elif i == len(data):
                self._after_end = True
        return frames

    def _begin(self) -> None:
        self._in_frame, self._oversized, self._size = True, False, 0
        self._buffer.clear()

    def _append(self, chunk: bytes) -> None:
        self._size += len(chunk)
        self._oversized = self._size > self.max_frame_bytes
        room = (HEAD_BYTES if self._oversized else self.max_frame_bytes) - len(self._buffer)
        if room > 0:
            self._buffer += chunk[:room]
        if self._oversized:
            del self._buffer[HEAD_BYTES:]

    def _finish(self) -> Frame | OversizedFrame:
        self._in_frame = False
        payload = bytes(self._buffer)
        self._buffer.clear()
        return OversizedFrame(payload, self._size) if self._oversized else Frame(payload)


async def serve_mllp(
    host: str,
    port: int,
    handle: Handler,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
) -> asyncio.Server:
    """Listen for MLLP connections; `handle` turns each frame's payload into the framed answer (an ACK).

    A frame over `max_frame_bytes`, or one `handle` fails on, is answered with an AR ACK built here; a connection
    silent for `idle_timeout` seconds is closed. Close the returned server to stop listening.
    """

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder(max_frame_bytes)
        peer = writer.get_extra_info("peername")
        try:
            while True:
                async with asyncio.timeout(idle_timeout):
                    data = await reader.read(_READ_CHUNK)
                if not data:
                    break
                for frame in decoder.feed(data):
                    writer.write(START_BLOCK + await _answer(frame, handle) + END_BLOCK + CARRIAGE_RETURN)
                    await writer.drain()
        except TimeoutError:
            logger.info("MLLP connection from %s idle for %ss: closed", peer, idle_timeout)
        except ConnectionError as exc:
            logger.info("MLLP connection from %s lost: %s", peer, exc)
        finally:
            if decoder.discarded or decoder.in_frame:
                logger.warning("MLLP connection from %s: %d bytes outside frames dropped%s", peer, decoder.discarded,
                               ", last frame unfinished" if decoder.in_frame else "")
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(on_connection, host, port)


async def _answer(frame: Frame | OversizedFrame, handle: Handler) -> bytes:
    if isinstance(frame, OversizedFrame):
        logger.warning("MLLP frame of %d bytes refused (limit exceeded)", frame.size)
        return reject_payload(frame.head, located(
            FRAME_TOO_LARGE, None, None, f"the MLLP frame is {frame.size} bytes long, over the gateway's limit",
            value=str(frame.size), expected="a smaller frame: send large batches over HTTP"))
    try:
        return await handle(frame.payload)
    except Exception:  # one failure must not end the connection: the sender gets an AR and may retry
        logger.exception("MLLP handler failed on a frame of %d bytes", len(frame.payload))
        return reject_payload(frame.payload, located(
            PROCESSING_FAILED, None, None, "the gateway could not process the message; it was not stored as "
            "accepted: send it again later", expected="a message the gateway can process"))
