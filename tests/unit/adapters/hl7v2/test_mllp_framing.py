"""MLLP framing without sockets: frames out of any chunking, garbage dropped, oversized frames cut to their head."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.hl7v2.mllp import HEAD_BYTES, Frame, FrameDecoder, OversizedFrame

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
ONE = b"MSH|^~\\&|EPMA|RHM|||20261121||RDE^O11|1|P|2.5\rPID|||9434765919^^^NHS^NH\r"
TWO = b"MSH|^~\\&|EPMA|RHM|||20261121||RDE^O11|2|P|2.5\r"


def frame(payload: bytes) -> bytes:
    return VT + payload + FS + CR


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[Frame | OversizedFrame]:
    return [f for chunk in chunks for f in decoder.feed(chunk)]


def test_one_frame_in_one_chunk() -> None:
    decoder = FrameDecoder()

    assert decoder.feed(frame(ONE)) == [Frame(ONE)]
    assert (decoder.discarded, decoder.in_frame) == (0, False)


def test_frames_come_out_whatever_the_chunking() -> None:
    stream = frame(ONE) + frame(TWO)
    for size in (1, 2, 3, 7, 64):
        chunks = [stream[i:i + size] for i in range(0, len(stream), size)]
        decoder = FrameDecoder()

        assert feed_all(decoder, chunks) == [Frame(ONE), Frame(TWO)], size
        assert decoder.discarded == 0


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, len(frame(ONE)) * 2), max_size=8))
def test_any_split_gives_the_same_frames(cuts: list[int]) -> None:
    stream = frame(ONE) + frame(TWO)
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})

    frames = feed_all(FrameDecoder(), [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])

    assert frames == [Frame(ONE), Frame(TWO)]


def test_bytes_outside_frames_are_dropped_and_counted() -> None:
    decoder = FrameDecoder()

    frames = decoder.feed(b"\r\nGET / HTTP/1.1\r\n" + frame(ONE) + b"junk" + frame(TWO) + b"\x1c\r")

    assert frames == [Frame(ONE), Frame(TWO)]
    assert decoder.discarded == len(b"\r\nGET / HTTP/1.1\r\n") + len(b"junk") + 2


def test_the_carriage_return_after_the_end_block_is_optional() -> None:
    decoder = FrameDecoder()

    assert decoder.feed(VT + ONE + FS + VT + TWO + FS) == [Frame(ONE), Frame(TWO)]
    assert decoder.feed(CR) == [] and decoder.discarded == 0  # a CR arriving late after FS is still the trailer


def test_a_start_block_inside_a_frame_abandons_it() -> None:
    decoder = FrameDecoder()

    frames = decoder.feed(VT + b"MSH|cut short" + frame(TWO))

    assert frames == [Frame(TWO)]
    assert decoder.discarded == len(VT + b"MSH|cut short")


def test_an_unfinished_frame_is_pending() -> None:
    decoder = FrameDecoder()

    assert decoder.feed(VT + ONE[:10]) == []
    assert decoder.in_frame


def test_an_oversized_frame_keeps_its_head_and_size() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    big = ONE + b"NTE|||" + b"x" * (HEAD_BYTES * 3) + b"\r"

    frames = feed_all(decoder, [frame(big)[i:i + 1000] for i in range(0, len(frame(big)), 1000)] + [frame(TWO)])

    assert frames == [OversizedFrame(big[:HEAD_BYTES], len(big)), Frame(TWO)]


def test_a_frame_at_the_limit_is_fine() -> None:
    assert FrameDecoder(max_frame_bytes=len(ONE)).feed(frame(ONE)) == [Frame(ONE)]
    assert FrameDecoder(max_frame_bytes=len(ONE) - 1).feed(frame(ONE)) == [OversizedFrame(ONE, len(ONE))]


def test_an_empty_frame_is_a_frame() -> None:
    assert FrameDecoder().feed(VT + FS + CR) == [Frame(b"")]
