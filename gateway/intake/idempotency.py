"""Inbound idempotency: a retried request with the same key gets the first answer again, with no new effect.

A client marks a request with `Idempotency-Key` (or, failing that, `X-Request-ID`). The first request with a
key claims it (a row `in-progress`), runs, and stores its answer sealed. Afterwards, for `idempotency_hours`:

- same key, same endpoint and same body (SHA-256): the stored answer, replayed exactly; nothing runs again;
- same key, another body or endpoint: `IdempotencyKeyReusedError` (422), nothing runs;
- same key while the first is still running: `RequestInProgressError` (409).

Keys are scoped per client: another client's identical key is another key. A request that fails with an error
changed nothing (every gateway error rolls back), so its claim is released and a retry runs afresh.

A claim is a lease: while in progress its `expires_at` is `idempotency_claim_seconds` ahead, and the request
holding it renews it (`renew`, every third of that) for as long as it runs, however long (a $release long-poll,
a large export). A claim whose request stopped renewing it (its process died: SIGKILL, a crash, a lost machine)
lapses within `idempotency_claim_seconds` and is taken over, so a client retrying after a server died gets its
answer within seconds rather than a 409 for minutes.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from gateway.context import Gateway
from gateway.domain.principal import Principal
from gateway.errors import IdempotencyKeyReusedError, InputError, Issue, Location, RequestInProgressError, StoreError
from gateway.store import idempotency as store
from gateway.store.tables import IdempotencyRecord

# Expired records removed per claim: purging is spread over requests, so no sweeper is needed.
PURGE_BATCH = 100
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    header: str  # the header it came in: Idempotency-Key or X-Request-ID
    value: str

    def sha256(self) -> str:
        return hashlib.sha256(self.value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """This request holds the key: run it, then `complete` (or `release` if it failed)."""

    record_id: str
    client_id: str


def record_context(record_id: str, client_id: str) -> str:
    """Associated data of a sealed answer: the row and the client it belongs to."""
    return f"idempotency_record:{record_id}:{client_id}"


def check_key(header: str, raw: str) -> IdempotencyKey:
    """The key a header carries (an RFC 8941 string's quotes are dropped), or a located InputError."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value or len(value) > MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value):
        raise InputError(
            [
                Issue(
                    code="INVALID_VALUE",
                    message=f"{header} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
                    location=Location(path=header),
                    value=f"{len(value)} characters",
                    expected="e.g. a UUID",
                )
            ]
        )
    return IdempotencyKey(header, value)


async def claim(
    gw: Gateway, principal: Principal, key: IdempotencyKey, operation: str, body: bytes
) -> Claim | StoredAnswer:
    """Claim `key` for this request, or the stored answer of the request that used it first."""
    request_sha = hashlib.sha256(body).hexdigest()
    key_sha = key.sha256()
    for _attempt in range(3):
        now = gw.clock()
        try:
            async with gw.sessions() as session, session.begin():
                await store.purge_expired(session, now, PURGE_BATCH)
                found = await store.find(session, principal.client_id, key_sha)
                if found is not None and found.state == "in-progress" and found.expires_at <= now:
                    await store.remove(session, found.id)  # its request died before answering: the lease lapsed
                    found = None
                if found is None:
                    record = IdempotencyRecord(
                        id=str(uuid.uuid4()),
                        client_id=principal.client_id,
                        key_sha256=key_sha,
                        operation=operation,
                        request_sha256=request_sha,
                        state="in-progress",
                        created_at=now,
                        expires_at=now + claim_lease(gw),
                    )
                    await store.insert(session, record)
                    return Claim(record.id, principal.client_id)
                if found.operation != operation or found.request_sha256 != request_sha:
                    raise _reused(key, found, operation)
                if found.state != "done" or found.response_enc is None or found.status_code is None:
                    raise RequestInProgressError(
                        f"a request with this {key.header} is still being processed; retry when it has answered",
                        header=key.header,
                    )
                body_out = gw.cipher.open(found.response_enc, context=record_context(found.id, found.client_id))
                return StoredAnswer(found.status_code, found.content_type or "application/octet-stream", body_out)
        except store.KeyTaken:
            continue  # a concurrent request inserted the same key first: read its record
    raise StoreError(f"could not claim the {key.header}: it kept changing")


def claim_lease(gw: Gateway) -> timedelta:
    """How long an in-progress claim holds without being renewed."""
    return timedelta(seconds=gw.settings.idempotency_claim_seconds)


async def renew(gw: Gateway, held: Claim) -> bool:
    """Push the claim's lease `idempotency_claim_seconds` ahead again; False when it is gone (lapsed and
    taken over, or purged)."""
    async with gw.sessions() as session, session.begin():
        return await store.finish(session, held.record_id, {"expires_at": gw.clock() + claim_lease(gw)})


async def complete(gw: Gateway, held: Claim, answer: StoredAnswer) -> None:
    """Store the answer the request got, sealed, for replays; kept for `idempotency_hours` from now."""
    sealed = gw.cipher.seal(answer.body, context=record_context(held.record_id, held.client_id))
    async with gw.sessions() as session, session.begin():
        await store.finish(
            session,
            held.record_id,
            {
                "state": "done",
                "status_code": answer.status_code,
                "content_type": answer.content_type[:100],
                "response_enc": sealed,
                "expires_at": gw.clock() + timedelta(hours=gw.settings.idempotency_hours),
            },
        )


async def release(gw: Gateway, held: Claim) -> None:
    """Give the key up: the request failed and changed nothing, so a retry may run it again."""
    async with gw.sessions() as session, session.begin():
        await store.remove(session, held.record_id)


async def purge(gw: Gateway, *, batch: int = 1000) -> int:
    """Delete every expired record now; returns how many."""
    total = 0
    while True:
        async with gw.sessions() as session, session.begin():
            gone = await store.purge_expired(session, gw.clock(), batch)
        total += gone
        if gone < batch:
            return total


def _reused(key: IdempotencyKey, found: IdempotencyRecord, operation: str) -> IdempotencyKeyReusedError:
    what = "another endpoint" if found.operation != operation else "a request with another body"
    return IdempotencyKeyReusedError(
        [
            Issue(
                code="IDEMPOTENCY_KEY_REUSED",
                message=f"this {key.header} was already used for {what}; use a new key for a new request",
                location=Location(path=key.header),
                expected="the same key only for a retry of the same request (same endpoint and body)",
            )
        ]
    )
