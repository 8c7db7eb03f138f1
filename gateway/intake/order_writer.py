"""The one order writer: every message the gateway sends a provider is validated, signed, sealed, queued in the
outbox and announced on the prescription's timeline here, the same way.

The callers build the bundles: `planning` a new order (or an AMEND's new version), `changes` the cancellations of
a version it cancels, `gateway.delivery.rerouting` the order for the provider a returned prescription goes to
next. Pure: the writer adds rows to a `Rows`, which the caller writes in its transaction (the outbox pattern).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.context import Gateway
from gateway.domain.outbox import OutboxState, check_outbox_transition
from gateway.errors import Issue
from gateway.fhir.serialise import dumps_bundle
from gateway.intake.rows import MessageRow, OutboxRow, Rows, event_row
from gateway.signing.bundle import sign_bundle
from gateway.store.sealed import message_context
from gateway.validator.validator import Validator


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One built (unsigned) message for a provider: its bundle, its MessageHeader.id and its event."""

    bundle: dict[str, Any]
    message_id: str
    event: str  # prescription-order, prescription-order-update


@dataclass(frozen=True, slots=True)
class Addressee:
    """Whose messages these are and who they go to. Every message of one trust's RxNumber has one order key, so
    that an amend or cancel never overtakes the order it changes (nor a part of it)."""

    prescription_id: str
    trust_ods: str
    rx_number: str
    provider_ods: str

    @property
    def order_key(self) -> str:
        return f"{self.trust_ods}:{self.rx_number}"


@dataclass(frozen=True, slots=True)
class Announcement:
    """The timeline event that records the messages written (it names the first)."""

    kind: str
    status: str | None
    actor_ods: str | None
    detail: str


def queued(provider_ods: str, reason: str, note: str = "") -> Announcement:
    """The timeline's entry for an order queued for `provider_ods`, routed there for `reason`."""
    return Announcement("queued", None, provider_ods, f"prescription-order for {provider_ods} ({reason}){note}")


@dataclass(frozen=True, slots=True)
class OrderWriter:
    gw: Gateway
    now: datetime

    def write(
        self,
        rows: Rows,
        messages: Sequence[Outgoing],
        to: Addressee,
        announcement: Announcement,
        *,
        profile: str | None,
    ) -> list[Issue]:
        """Validate every message against `profile` (None: an EPS bundle from the trust's EPR, which goes on as it
        came); at the first with errors, return them and write nothing. Else sign and seal each one, add its
        message and queued outbox rows to `rows` in order, then the timeline event; return []."""
        if profile is not None:
            validator = Validator.from_package()
            for message in messages:
                problems = [i for i in validator.validate(message.bundle, profile) if i.severity in ("error", "fatal")]
                if problems:  # a mapping bug of ours: refuse rather than send the provider an invalid message
                    return list(problems)
        for message in messages:
            rows.messages.append(self._message_row(sign_order(self.gw, message.bundle, self.now), message, to))
            rows.outbox.append(self._outbox_row(message.message_id, to))
        said, first = announcement, messages[0].message_id
        event = event_row(to.prescription_id, self.now, said.kind, said.status, said.actor_ods, first, said.detail)
        rows.events.append(event)
        return []

    def _message_row(self, signed: dict[str, Any], message: Outgoing, to: Addressee) -> MessageRow:
        context = message_context(message.message_id, to.trust_ods)
        return {
            "id": message.message_id,
            "direction": "out",
            "event": message.event,
            "prescription_id": to.prescription_id,
            "sender_ods": to.trust_ods,
            "receiver_ods": to.provider_ods,
            "body_enc": self.gw.cipher.seal(dumps_bundle(signed), context=context),
            "created_at": self.now,
        }

    def _outbox_row(self, message_id: str, to: Addressee) -> OutboxRow:
        return {
            "message_id": message_id,
            "prescription_id": to.prescription_id,
            "order_key": to.order_key,
            "provider_ods": to.provider_ods,
            "state": check_outbox_transition(None, OutboxState.QUEUED, entry=message_id),
            "available_at": self.now,
            "lease_token": 0,
            "attempts": 0,
            "created_at": self.now,
        }


def sign_order(gw: Gateway, bundle: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Append the gateway's Provenance: a detached JWS over the JCS form, targeting every MedicationRequest."""
    if gw.signing is None:
        return bundle
    targets = [
        str(e["fullUrl"])
        for e in bundle["entry"]
        if e.get("resource", {}).get("resourceType") == "MedicationRequest" and e.get("fullUrl")
    ]
    return sign_bundle(bundle, gw.signing, now=now, target_refs=targets)
