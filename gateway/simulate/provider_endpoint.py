"""A simulated push provider: the `$process-message` endpoint a homecare provider registers with `--mode push`.

It behaves as the gateway expects a provider to (docs/delivery.md): it validates every order with our validator,
answers a valid order or cancellation with an `ok` response message (response.identifier = the order's
MessageHeader.id), a non-conforming one with `fatal-error` and an OperationOutcome locating each problem, a body
that is not a FHIR message with 400 and an OperationOutcome, and a resend with exactly the answer it gave first.
The conformance provider suite certifies real endpoints against this behaviour; tests break it on purpose by
overriding `answer`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from conformance.parties import provider_messages as msg
from gateway.dispatch.process_message import ORDER_EVENTS
from gateway.validator import Validator

FHIR_JSON = "application/fhir+json"


def outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "id": str(uuid.uuid4()), "issue": issues}


def _issue(code: str, text: str, expression: str | None) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "severity": "error",
        "code": "invalid",
        "details": {"coding": [{"system": "https://fhir.homecaregateway.uk/CodeSystem/issue-code", "code": code}]},
        "diagnostics": text,
    }
    if expression:
        issue["expression"] = [expression]
    return issue


class SimulatedProviderEndpoint:
    """An ASGI app answering POST …/$process-message; `received` counts each message id, `effects` new orders."""

    def __init__(self, ods: str = "VNPSH", *, source: str | None = None) -> None:
        self.ods = ods
        self.source = source or f"https://provider.example/{ods}"
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.received: list[str] = []
        self.effects = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if request.method != "POST" or not request.url.path.endswith("$process-message"):
            status, body = 404, outcome([_issue("NOT_FOUND", "only POST $process-message is served", None)])
        else:
            status, body = self.handle(await request.body())
        await Response(json.dumps(body), status_code=status, media_type=FHIR_JSON)(scope, receive, send)

    def handle(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            bundle = json.loads(raw)
            header = bundle["entry"][0]["resource"]
            message_id, event = str(header["id"]), str(header["eventCoding"]["code"])
            if header["resourceType"] != "MessageHeader" or bundle.get("type") != "message":
                raise TypeError("not a message")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return 400, outcome([_issue("NOT_A_MESSAGE", "expected a FHIR message Bundle", "Bundle.entry[0]")])
        self.received.append(message_id)
        if message_id in self.answers:  # a resend: the same answer, no second effect
            return self.answers[message_id]
        answer = self.answer(bundle, message_id, event)
        self.answers[message_id] = answer
        return answer

    def answer(self, bundle: dict[str, Any], message_id: str, event: str) -> tuple[int, dict[str, Any]]:
        """What this provider says to a new message (override to misbehave)."""
        if event not in ORDER_EVENTS:
            return 200, self._fatal(
                message_id, [_issue("UNSUPPORTED_EVENT", f"event {event!r}", "Bundle.entry[0].resource.eventCoding")]
            )
        errors = [i for i in Validator.from_package().validate(bundle) if i.severity in ("error", "fatal")]
        if errors:
            return 200, self._fatal(message_id, [_issue(i.code, i.message, i.location.path) for i in errors])
        self.effects += 1
        return 200, msg.acknowledgement(self.ods, message_id, self.source)

    def _fatal(self, message_id: str, issues: list[dict[str, Any]]) -> dict[str, Any]:
        return msg.fatal_response(self.ods, message_id, self.source, outcome(issues))
