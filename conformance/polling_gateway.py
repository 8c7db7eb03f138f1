"""The gateway as a polling provider sees it, played by the provider suite in pull mode: tokens, `Task/$release` of
one sample order, acknowledgements, delivery status and bills, each answered as the gateway answers them.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from conformance.answers import release_parameters, success_outcome
from conformance.checks import FHIR_JSON, message_header
from conformance.listener import Answer, Arrival, Listener
from conformance.orders import SampleOrder

BILLING_PATHS = ("/FHIR/R4/Claim", "/FHIR/R4/Invoice", "/api/v1/invoices")  # docs/invoicing.md


class PollingGateway:
    """The gateway, as far as a polling provider can tell: tokens, $release of one order, acks and status."""

    def __init__(self, order: SampleOrder) -> None:
        self.order = order
        self.acknowledged = False
        self.listener: Listener | None = None

    async def __call__(self, arrival: Arrival) -> Answer:
        path = arrival.path.rstrip("/")
        if arrival.method == "POST" and path.endswith("/oauth2/token"):
            form = parse_qs(arrival.body.decode("utf-8", "replace"))
            if "client_assertion" not in form:
                return Answer(400, b'{"error": "invalid_request"}', "application/json")
            token = {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 3600}
            return Answer(200, json.dumps(token).encode(), "application/json")
        if arrival.method == "POST" and path.endswith("/Task/$release"):
            orders = [] if self.acknowledged else [self.order.bundle]
            now = datetime.now(UTC)
            return fhir_answer(200, release_parameters(orders, now + timedelta(minutes=5), now))
        if arrival.method == "POST" and path.endswith("/$process-message"):
            body = loads_or_none(arrival.body)
            response = (message_header(body) or {}).get("response") or {}
            if response.get("identifier") == self.order.message_id and response.get("code") == "ok":
                self.acknowledged = True
            return fhir_answer(200, success_outcome("received"))
        if arrival.method == "POST" and path.endswith("/Task"):
            return fhir_answer(201, success_outcome("delivery status recorded"))
        if arrival.method == "POST" and path.endswith(BILLING_PATHS):
            return fhir_answer(200, success_outcome("received; checked by the PRV-BILL tests"))
        return fhir_answer(
            404,
            {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"severity": "error", "code": "not-found", "diagnostics": f"{arrival.method} {path} is not served"}
                ],
            },
        )


def fhir_answer(status: int, body: dict[str, Any]) -> Answer:
    return Answer(status, json.dumps(body).encode(), FHIR_JSON)


def loads_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
