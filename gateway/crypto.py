"""Encryption at rest (AES-256-GCM, key id and row binding in the associated data) and the NHS-number blind index."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import ConfigurationError

_VERSION = b"\x01"


class DataCipher:
    """Seals and opens patient data. A blob is version | key id (8) | nonce (12) | ciphertext+tag."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigurationError("the data key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"hgw-key-id" + key).digest()[:8]
        self._index_key = hmac.new(key, b"hgw-blind-index", hashlib.sha256).digest()

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        """Encrypt, binding the blob to `context` (table, row id, tenant) so it cannot be moved to another row."""
        nonce = secrets.token_bytes(12)
        header = _VERSION + self.key_id
        return header + nonce + self._aead.encrypt(nonce, plaintext, header + context.encode())

    def open(self, blob: bytes, *, context: str) -> bytes:
        header, nonce, body = blob[:9], blob[9:21], blob[21:]
        if header[:1] != _VERSION or header[1:] != self.key_id:
            raise ConfigurationError("data was sealed with another key")
        try:
            return self._aead.decrypt(nonce, body, header + context.encode())
        except InvalidTag as exc:
            raise ConfigurationError("sealed data failed authentication (tampered or moved)") from exc

    def blind_index(self, value: str) -> str:
        """A keyed hash for equality look-ups (NHS number) without storing the value."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).hexdigest()


def load_data_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else the installation's own key file (created once, mode 0600)."""
    if configured:
        try:
            key = base64.b64decode(configured, validate=True)
        except ValueError as exc:
            raise ConfigurationError("HGW_DATA_KEY is not valid base64") from exc
        return key
    path = data_dir / "keys" / "data.key"
    if path.exists():
        return base64.b64decode(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(key).decode())
    return key
