"""The pieces of the `$release` long-poll: the Prefer header and the in-process outbox signal."""

from __future__ import annotations

import asyncio

import pytest

from gateway.api.prefer import prefer_wait
from gateway.store.outbox_signal import OutboxSignal


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], None),
        (["wait=10"], 10),
        (["respond-async, wait=5"], 5),
        (["return=minimal", "Wait = 7"], 7),
        (['wait="3"'], 3),
        (["wait=3;foo=bar"], 3),
        (["wait=-1"], None),  # unreadable preferences are ignored, not refused (RFC 7240 §2)
        (["wait=soon"], None),
        (["waiting=3"], None),
    ],
)
def test_prefer_wait(headers: list[str], expected: int | None) -> None:
    assert prefer_wait(headers) == expected


async def test_a_notification_wakes_only_that_providers_listeners() -> None:
    signal = OutboxSignal()
    with signal.listen("VNFKT") as mine, signal.listen("VNCEL") as theirs:
        assert (signal.waiting("VNFKT"), signal.waiting("VNCEL")) == (1, 1)
        signal.notify(["VNFKT"])
        await asyncio.wait_for(mine.wait(), timeout=1)
        assert not theirs.is_set()
    assert signal.waiting("VNFKT") == signal.waiting("VNCEL") == 0
    signal.notify(["VNFKT"])  # nobody listening: nothing to do, no error
