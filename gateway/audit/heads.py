"""Signing and checking the chain's heads: what an `audit_head` row states, signed with the gateway's keys."""

from __future__ import annotations

import json
from datetime import datetime

from gateway.signing.exceptions import MalformedSignatureError
from gateway.signing.jws import parse_detached, sign_detached, verify_detached
from gateway.signing.keys import SigningKeyStore
from gateway.store.audit_tables import AuditHead, instant


def head_payload(seq: int, hash_: str, at: datetime) -> bytes:
    """What a head signs: canonical JSON (sorted keys, no spaces) of the chain position, its hash and the time."""
    return json.dumps(
        {"hash": hash_, "seq": seq, "at": instant(at), "typ": "hgw-audit-head"}, sort_keys=True, separators=(",", ":")
    ).encode("ascii")


def sign_head(keys: SigningKeyStore, seq: int, hash_: str, at: datetime) -> AuditHead:
    """The head row for record `seq`, signed with the current signing key."""
    key = keys.current()
    jws = sign_detached(head_payload(seq, hash_, at), key.private_key, key.kid)
    return AuditHead(seq=seq, hash=hash_, at=at, jws=jws)


def head_signature_problem(keys: SigningKeyStore | None, head: AuditHead) -> str | None:
    """None when `head` carries a valid signature by one of the gateway's keys (current or retired), else why not."""
    if keys is None:
        return "no signing keys to check it with"
    try:
        jws = parse_detached(head.jws)
    except MalformedSignatureError as exc:
        return f"its signature is malformed ({exc})"
    key = keys.get(jws.kid)
    if key is None:
        return f"it is signed by key {jws.kid}, which is not one of the gateway's"
    if not verify_detached(jws, head_payload(head.seq, head.hash, head.at), key.public_key):
        return "its signature does not match: the head was edited or forged"
    return None
