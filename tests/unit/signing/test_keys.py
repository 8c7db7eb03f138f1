"""Signing keys: made once, kept on rotation, published as a JWKS, files private, demo keys refused in production."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.errors import ConfigurationError
from gateway.signing.exceptions import DemoKeyError, SigningKeyError
from gateway.signing.keys import KEY_FOLDER, SigningKeyStore, assert_production_ready, keys_from_jwks, thumbprint
from tests.unit.signing.conftest import TickingClock


def test_first_use_makes_one_current_key(tmp_path: Path, clock: TickingClock) -> None:
    store = SigningKeyStore.load_or_create(tmp_path, "production", clock=clock)
    [key] = store.keys()
    assert key.status == "current" and not key.demo
    assert store.current() == key
    assert key.kid == thumbprint(key.public_key)
    again = SigningKeyStore.load_or_create(tmp_path, "production", clock=clock)
    assert [k.kid for k in again.keys()] == [key.kid]


def test_open_makes_nothing(tmp_path: Path) -> None:
    store = SigningKeyStore.open(tmp_path, "test")
    assert store.keys() == []
    with pytest.raises(SigningKeyError, match="no current signing key"):
        store.current()
    assert not (tmp_path / KEY_FOLDER).exists()


def test_key_files_are_private(store: SigningKeyStore) -> None:
    folder = store.directory
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [path] = folder.glob("*.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert set(document) == {"kid", "alg", "status", "created", "demo", "private_key_pem"}
    assert document["alg"] == "ES256" and document["status"] == "current" and document["demo"] is False
    assert "PRIVATE KEY" in document["private_key_pem"]
    assert "private_key" not in repr(store.current())


def test_rotate_keeps_old_keys_retired(store: SigningKeyStore) -> None:
    first = store.current()
    rotation = store.rotate()
    assert rotation.current.kid != first.kid
    assert rotation.retired == [first.kid]
    second = store.rotate()
    assert second.retired == [rotation.current.kid, first.kid]
    assert [k.status for k in store.keys()] == ["current", "retired", "retired"]
    assert store.current().kid == second.current.kid
    reopened = SigningKeyStore.open(store.directory.parent.parent, "test")
    assert [k.kid for k in reopened.keys()] == [second.current.kid, rotation.current.kid, first.kid]


def test_public_jwks_has_every_kept_key_and_no_private_part(store: SigningKeyStore) -> None:
    old = store.current().kid
    new = store.rotate().current.kid
    jwks = store.public_jwks()
    assert [k["kid"] for k in jwks["keys"]] == [new, old]
    for jwk in jwks["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    parsed = keys_from_jwks(json.loads(json.dumps(jwks)))
    assert set(parsed) == {new, old}
    assert all(isinstance(k, ec.EllipticCurvePublicKey) for k in parsed.values())
    assert parsed[new].public_numbers() == store.current().public_key.public_numbers()


def test_another_store_on_the_folder_sees_a_rotation(store: SigningKeyStore, clock: TickingClock) -> None:
    server = SigningKeyStore.open(store.directory.parent.parent, "test", clock=clock)
    before = server.current().kid
    new = store.rotate().current.kid  # as `hgw keys rotate` in another process
    assert server.current().kid == new
    assert server.get(before) is not None and server.get(before).status == "retired"  # type: ignore[union-attr]


def test_a_rotation_stopped_half_way_leaves_one_current(store: SigningKeyStore) -> None:
    old = store.current()
    new = store.rotate().current
    path = store.directory / f"{old.kid}.json"  # put the old key back to "current", as if never retired
    document = json.loads(path.read_text())
    document["status"] = "current"
    path.write_text(json.dumps(document))
    assert store.current().kid == new.kid
    assert [k.status for k in store.keys()] == ["current", "retired"]


def test_remove_deletes_a_retired_key_only(store: SigningKeyStore) -> None:
    old = store.current().kid
    new = store.rotate().current.kid
    with pytest.raises(SigningKeyError, match="current key"):
        store.remove(new)
    store.remove(old)
    assert [k.kid for k in store.keys()] == [new]
    with pytest.raises(SigningKeyError, match="no signing key"):
        store.remove(old)
    with pytest.raises(SigningKeyError, match="not a signing key id"):
        store.remove("../../etc/passwd")


def test_demo_mode_marks_keys_and_production_refuses_them(tmp_path: Path, clock: TickingClock) -> None:
    demo = SigningKeyStore.load_or_create(tmp_path, "demo", clock=clock)
    kid = demo.current().kid
    assert demo.is_demo_key(kid)
    assert json.loads((demo.directory / f"{kid}.json").read_text())["demo"] is True

    production = SigningKeyStore.open(tmp_path, "production", clock=clock)
    with pytest.raises(DemoKeyError) as caught:
        assert_production_ready(production)
    assert caught.value.kids == [kid]
    assert kid in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)

    fresh = production.rotate().current  # the way out: a production key, then the demo one removed
    assert not fresh.demo and not production.is_demo_key(fresh.kid)
    with pytest.raises(DemoKeyError):
        assert_production_ready(production)
    production.remove(kid)
    assert_production_ready(production)


def test_production_keys_pass_the_production_check(tmp_path: Path) -> None:
    assert_production_ready(SigningKeyStore.load_or_create(tmp_path, "production"))
    assert not SigningKeyStore.open(tmp_path, "production").is_demo_key("no-such-kid")


def test_a_key_file_others_can_read_is_refused(store: SigningKeyStore) -> None:
    [path] = store.directory.glob("*.json")
    path.chmod(0o644)
    fresh = SigningKeyStore.open(store.directory.parent.parent, "test")
    with pytest.raises(SigningKeyError, match="readable by others") as caught:
        fresh.keys()
    assert caught.value.path == path


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d.update(kid="A" * 43), id="kid-not-the-thumbprint"),
        pytest.param(lambda d: d.update(private_key_pem="not a pem"), id="not-a-pem"),
        pytest.param(lambda d: d.update(status="lost"), id="unknown-status"),
        pytest.param(lambda d: d.update(created="2026-01-01T00:00:00"), id="naive-created"),
        pytest.param(lambda d: d.pop("created"), id="missing-field"),
    ],
)
def test_a_corrupt_key_file_is_a_located_error(store: SigningKeyStore, edit: object) -> None:
    [path] = store.directory.glob("*.json")
    document = json.loads(path.read_text())
    edit(document)  # type: ignore[operator]
    path.write_text(json.dumps(document))
    with pytest.raises(SigningKeyError) as caught:
        SigningKeyStore.open(store.directory.parent.parent, "test").keys()
    assert caught.value.path == path


def test_an_rsa_key_in_a_key_file_is_refused(store: SigningKeyStore) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    [path] = store.directory.glob("*.json")
    document = json.loads(path.read_text())
    pem = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    document["private_key_pem"] = pem.decode()
    path.write_text(json.dumps(document))
    with pytest.raises(SigningKeyError, match="not a P-256 key"):
        SigningKeyStore.open(store.directory.parent.parent, "test").keys()


def test_jwks_parsing_skips_foreign_keys_and_rejects_broken_ones(store: SigningKeyStore) -> None:
    jwk = store.current().jwk()
    rsa_jwk = {"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}
    assert set(keys_from_jwks({"keys": [rsa_jwk, {**jwk, "kid": ""}, jwk]})) == {jwk["kid"]}
    with pytest.raises(SigningKeyError, match="not a JWKS"):
        keys_from_jwks({"kid": "x"})
    with pytest.raises(SigningKeyError, match="keys\\[0\\]"):
        keys_from_jwks({"keys": [{**jwk, "x": "AAAA"}]})
