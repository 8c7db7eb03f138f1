"""Encryption at rest: sealed blobs open only with their key and their context; the data key is made once."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from gateway.errors import ConfigurationError
from gateway.security.crypto import DataCipher, KeyRing, load_data_key

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
PLAINTEXT = b'{"nhs_number": "9434765919", "family": "SMITH"}'
CONTEXT = "prescription:8b1f0c1e-0000-4000-8000-000000000001:RBA"


@pytest.fixture
def cipher() -> DataCipher:
    return DataCipher(KEY_A)


def test_seal_open_round_trip(cipher: DataCipher) -> None:
    blob = cipher.seal(PLAINTEXT, context=CONTEXT)
    assert PLAINTEXT not in blob
    assert cipher.open(blob, context=CONTEXT) == PLAINTEXT


def test_sealing_twice_gives_different_blobs(cipher: DataCipher) -> None:
    assert cipher.seal(PLAINTEXT, context=CONTEXT) != cipher.seal(PLAINTEXT, context=CONTEXT)


def test_empty_plaintext_round_trips(cipher: DataCipher) -> None:
    assert cipher.open(cipher.seal(b"", context=CONTEXT), context=CONTEXT) == b""


@pytest.mark.parametrize(
    "other_context",
    [
        "prescription:8b1f0c1e-0000-4000-8000-000000000002:RBA",  # another row
        "prescription:8b1f0c1e-0000-4000-8000-000000000001:RHM",  # another tenant
        "fhir_message:8b1f0c1e-0000-4000-8000-000000000001:RBA",  # another table
        "",
    ],
)
def test_opening_in_another_context_fails(cipher: DataCipher, other_context: str) -> None:
    blob = cipher.seal(PLAINTEXT, context=CONTEXT)
    with pytest.raises(ConfigurationError, match="failed authentication"):
        cipher.open(blob, context=other_context)


@pytest.mark.parametrize("position", [21, -1, -17])  # first ciphertext byte, last tag byte, first tag byte
def test_tampered_blob_fails(cipher: DataCipher, position: int) -> None:
    blob = bytearray(cipher.seal(PLAINTEXT, context=CONTEXT))
    blob[position] ^= 0x01
    with pytest.raises(ConfigurationError):
        cipher.open(bytes(blob), context=CONTEXT)


def test_tampered_nonce_fails(cipher: DataCipher) -> None:
    blob = bytearray(cipher.seal(PLAINTEXT, context=CONTEXT))
    blob[9] ^= 0x80
    with pytest.raises(ConfigurationError, match="failed authentication"):
        cipher.open(bytes(blob), context=CONTEXT)


def test_truncated_blob_fails(cipher: DataCipher) -> None:
    blob = cipher.seal(PLAINTEXT, context=CONTEXT)
    with pytest.raises(ConfigurationError):
        cipher.open(blob[:-1], context=CONTEXT)


def test_another_key_fails(cipher: DataCipher) -> None:
    blob = cipher.seal(PLAINTEXT, context=CONTEXT)
    with pytest.raises(ConfigurationError, match="another key"):
        DataCipher(KEY_B).open(blob, context=CONTEXT)


def test_another_key_fails_even_with_a_forged_key_id(cipher: DataCipher) -> None:
    other = DataCipher(KEY_B)
    blob = cipher.seal(PLAINTEXT, context=CONTEXT)
    forged = blob[:1] + other.key_id + blob[9:]
    with pytest.raises(ConfigurationError, match="failed authentication"):
        other.open(forged, context=CONTEXT)


@pytest.mark.parametrize("length", [0, 16, 24, 31, 33])
def test_key_must_be_32_bytes(length: int) -> None:
    with pytest.raises(ConfigurationError, match="32 bytes"):
        DataCipher(b"k" * length)


def test_blind_index_is_stable_for_one_key() -> None:
    assert DataCipher(KEY_A).blind_index("9434765919") == DataCipher(KEY_A).blind_index("9434765919")


def test_blind_index_differs_across_keys_and_values() -> None:
    a, b = DataCipher(KEY_A), DataCipher(KEY_B)
    assert a.blind_index("9434765919") != b.blind_index("9434765919")
    assert a.blind_index("9434765919") != a.blind_index("9434765870")


def test_blind_index_does_not_reveal_the_value() -> None:
    index = DataCipher(KEY_A).blind_index("9434765919")
    assert len(index) == 64
    assert "9434765919" not in index


def test_load_data_key_creates_private_key_files_once(tmp_path: Path) -> None:
    cipher = load_data_key(None, tmp_path)
    path = tmp_path / "keys" / "data.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys" / "index.key").stat().st_mode) == 0o600
    assert DataCipher(base64.b64decode(path.read_text())).key_id == cipher.key_id
    written = path.read_text()
    assert load_data_key(None, tmp_path).key_id == cipher.key_id
    assert path.read_text() == written
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.key", "index.key"]


def test_separate_installations_get_separate_keys(tmp_path: Path) -> None:
    assert load_data_key(None, tmp_path / "one").key_id != load_data_key(None, tmp_path / "two").key_id


def test_configured_key_wins_and_writes_no_file(tmp_path: Path) -> None:
    configured = base64.b64encode(KEY_B).decode()
    assert load_data_key(configured, tmp_path).key_id == DataCipher(KEY_B).key_id
    assert not (tmp_path / "keys").exists()


def test_a_key_from_the_file_seals_what_it_later_opens(tmp_path: Path) -> None:
    blob = load_data_key(None, tmp_path).seal(PLAINTEXT, context=CONTEXT)
    assert load_data_key(None, tmp_path).open(blob, context=CONTEXT) == PLAINTEXT


def test_rotation_keeps_old_blobs_readable_and_the_blind_index_stable(tmp_path: Path) -> None:
    before = load_data_key(None, tmp_path)
    blob = before.seal(PLAINTEXT, context=CONTEXT)
    KeyRing(tmp_path).rotate()
    after = load_data_key(None, tmp_path)
    assert after.key_id != before.key_id
    assert after.open(blob, context=CONTEXT) == PLAINTEXT
    assert not after.is_current(blob) and after.is_current(after.seal(b"x", context=CONTEXT))
    assert after.blind_index("9434765919") == before.blind_index("9434765919")


@pytest.mark.parametrize("configured", ["not base64!", "AAA", "QUJD\x00", "QUJDRA=x"])
def test_bad_base64_key_is_refused(tmp_path: Path, configured: str) -> None:
    with pytest.raises(ConfigurationError, match="HGW_DATA_KEY is not valid base64"):
        load_data_key(configured, tmp_path)
    assert not (tmp_path / "keys").exists()
