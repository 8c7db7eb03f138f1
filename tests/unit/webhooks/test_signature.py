"""The webhook signature: what the relay signs, a trust's receiver verifies with the published JWKS, and nothing
else passes (another body, another key, an old timestamp, headers that disagree with the signed ones)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.signing.keys import SigningKeyStore
from gateway.webhooks.signature import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSignatureError,
    signed_headers,
    verify,
)

BODY = b'{"event_id":42,"kind":"delivery-delivered"}'
NOW = int(datetime(2026, 11, 22, 9, 0, tzinfo=UTC).timestamp())


@pytest.fixture
def store(tmp_path: Path) -> SigningKeyStore:
    return SigningKeyStore.load_or_create(tmp_path, "test")


def _headers(store: SigningKeyStore, body: bytes = BODY, ts: int = NOW, event_id: str = "42") -> dict[str, str]:
    return signed_headers(body, store.current(), event_id=event_id, timestamp=ts)


def test_a_signed_request_verifies_with_the_published_jwks(store: SigningKeyStore) -> None:
    headers = _headers(store)
    header_b64, payload, signature = headers[SIGNATURE_HEADER].split(".")
    assert payload == "" and signature  # detached
    protected = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert protected == {"alg": "ES256", "kid": store.current().kid, "typ": "hgw-webhook+jws", "ts": NOW,
                         "event_id": "42"}
    assert headers[TIMESTAMP_HEADER] == str(NOW) and headers[EVENT_HEADER] == "42"
    signed = verify(BODY, headers, store.public_jwks(), now=NOW + 10)
    assert (signed.kid, signed.timestamp, signed.event_id) == (store.current().kid, NOW, "42")


def test_header_names_are_case_insensitive(store: SigningKeyStore) -> None:
    lowered = {k.lower(): v for k, v in _headers(store).items()}
    assert verify(BODY, lowered, store.public_jwks(), now=NOW).event_id == "42"


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda h: {**h, "X-HGW-Timestamp": str(NOW + 1)}, "differs from the signed timestamp"),
        (lambda h: {**h, "X-HGW-Event-Id": "43"}, "differs from the signed event id"),
        (lambda h: {k: v for k, v in h.items() if k != SIGNATURE_HEADER}, "no X-HGW-Signature"),
        (lambda h: {**h, SIGNATURE_HEADER: h[SIGNATURE_HEADER].replace("..", ".e30.")}, "not a detached"),
        (lambda h: {**h, SIGNATURE_HEADER: "e30..c2ln"}, "alg ES256 and typ"),
    ],
)
def test_headers_that_disagree_are_refused(store: SigningKeyStore, tamper, why: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WebhookSignatureError, match=why):
        verify(BODY, tamper(_headers(store)), store.public_jwks(), now=NOW)


def test_a_changed_body_is_refused(store: SigningKeyStore) -> None:
    with pytest.raises(WebhookSignatureError, match="does not match the body"):
        verify(BODY.replace(b"42", b"43"), _headers(store), store.public_jwks(), now=NOW)


def test_an_old_request_replayed_later_is_refused(store: SigningKeyStore) -> None:
    headers = _headers(store)
    assert verify(BODY, headers, store.public_jwks(), now=NOW + 300)
    with pytest.raises(WebhookSignatureError, match="replay"):
        verify(BODY, headers, store.public_jwks(), now=NOW + 301)


def test_a_key_not_in_the_jwks_is_refused(store: SigningKeyStore, tmp_path: Path) -> None:
    other = SigningKeyStore.load_or_create(tmp_path / "other", "test")
    with pytest.raises(WebhookSignatureError, match="not in the gateway's JWKS"):
        verify(BODY, _headers(store), other.public_jwks(), now=NOW)


def test_a_signature_made_before_a_rotation_still_verifies(store: SigningKeyStore) -> None:
    headers = _headers(store)
    store.rotate()
    assert verify(BODY, headers, store.public_jwks(), now=NOW).kid != store.current().kid
