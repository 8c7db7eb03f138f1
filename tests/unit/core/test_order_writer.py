"""The one order writer, without I/O: an invalid message writes nothing; valid ones become a sealed message, a
queued outbox row each (in order, one order key) and one timeline event naming the first."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

from gateway.context import Gateway
from gateway.intake.order_writer import Addressee, Announcement, OrderWriter, Outgoing, queued
from gateway.intake.rows import Rows
from gateway.security.crypto import DataCipher
from gateway.store.sealed import message_context
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CIPHER = DataCipher(os.urandom(32))
GW = cast(Gateway, SimpleNamespace(cipher=CIPHER, signing=None, settings=SimpleNamespace(public_base_url="https://gw")))
TO = Addressee("rx-1", "RBA", "RX100", "FTX40")


def _bundle(message_id: str) -> dict[str, object]:
    return {"resourceType": "Bundle", "id": message_id, "type": "message", "entry": []}


def test_a_message_that_fails_its_profile_is_returned_located_and_nothing_is_written() -> None:
    rows = Rows()
    problems = OrderWriter(GW, NOW).write(
        rows, [Outgoing(_bundle("m-1"), "m-1", "prescription-order")], TO, queued("FTX40", "rule 1"),
        profile=HOMECARE_PRESCRIPTION_ORDER,
    )
    assert problems and all(p.severity in ("error", "fatal") for p in problems)
    assert rows.mark() == Rows().mark()


def test_each_message_is_sealed_and_queued_in_order_and_one_event_names_the_first() -> None:
    rows = Rows()
    said = Announcement("cancellation-requested", None, "RBA", "marked for cancellation")
    messages = [Outgoing(_bundle(m), m, "prescription-order-update") for m in ("m-1", "m-2")]
    assert OrderWriter(GW, NOW).write(rows, messages, TO, said, profile=None) == []

    assert [m["id"] for m in rows.messages] == ["m-1", "m-2"]
    for message in rows.messages:
        sealed = CIPHER.open(message["body_enc"], context=message_context(message["id"], "RBA"))
        assert json.loads(sealed)["id"] == message["id"]
        assert (message["direction"], message["event"], message["receiver_ods"]) == (
            "out", "prescription-order-update", "FTX40"
        )
    assert [(o["message_id"], o["state"], o["order_key"], o["lease_token"]) for o in rows.outbox] == [
        ("m-1", "queued", "RBA:RX100", 0),
        ("m-2", "queued", "RBA:RX100", 0),
    ]
    [event] = rows.events
    assert (event["kind"], event["message_id"], event["actor_ods"], event["detail"]) == (
        "cancellation-requested", "m-1", "RBA", "marked for cancellation"
    )


def test_a_queued_order_is_announced_with_its_provider_and_reason() -> None:
    said = queued("FTX40", "rule 3", " (part 1 of 2 of the trust's prescription RX100)")
    assert (said.kind, said.actor_ods) == ("queued", "FTX40")
    assert said.detail == "prescription-order for FTX40 (rule 3) (part 1 of 2 of the trust's prescription RX100)"
