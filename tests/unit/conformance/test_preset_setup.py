"""`hgw conformance preset` sets parties up with `hgw` commands only: which it runs, given what the store holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from conformance.errors import UsageError
from conformance.setup import Hgw, register_preset

ODS = {"trust": "RBA", "provider": "VNFKT", "other_trust": "RZZ", "other_provider": "VNCEL"}


class FakeHgw:
    """Answers `hgw` as a store holding `providers`, `organisations` and `contacts` would; records every call."""

    def __init__(self, providers: list[str], organisations: list[str], contacts: list[str]) -> None:
        self.state = {"providers": providers, "organisations": organisations, "contacts": contacts}
        self.calls: list[tuple[str, ...]] = []
        self.registered: dict[str, dict[str, Any]] = {}

    def __call__(self, *args: str) -> Any:
        self.calls.append(args)
        if args[:2] == ("providers", "list"):
            return [{"ods": ods} for ods in self.state["providers"]]
        if args[:2] == ("organisations", "list"):
            return {
                "organisations": [{"ods": ods} for ods in self.state["organisations"]],
                "team_contacts": [{"trust_ods": ods} for ods in self.state["contacts"]],
            }
        if args[:2] == ("clients", "add"):
            options = dict(zip(args[2::2], args[3::2], strict=True))
            client_id = f"client-{len(self.registered)}"
            self.registered[client_id] = json.loads(Path(options["--jwks"]).read_text())
            return {"client_id": client_id}
        return {}


def test_a_fresh_store_gets_providers_trusts_and_one_client_per_party() -> None:
    hgw = FakeHgw(providers=[], organisations=[], contacts=[])
    parties = register_preset(hgw, ODS)
    adds = [c for c in hgw.calls if c[1] in ("add", "contact") and c[0] != "clients"]
    assert [c[:4] for c in adds] == [
        ("providers", "add", "--ods", "VNFKT"),
        ("providers", "add", "--ods", "VNCEL"),
        ("organisations", "add", "--ods", "RBA"),
        ("organisations", "contact", "--ods", "RBA"),
        ("organisations", "add", "--ods", "RZZ"),
        ("organisations", "contact", "--ods", "RZZ"),
    ]
    rba = next(c for c in adds if c[:4] == ("organisations", "add", "--ods", "RBA"))
    assert "TAUNTON AND SOMERSET NHS FOUNDATION TRUST" in rba and "MUSGROVE PARK HOSPITAL, TAUNTON, TA1 5DA" in rba
    stand_in = next(c for c in adds if c[:4] == ("organisations", "add", "--ods", "RZZ"))
    assert "ORGANISATION RZZ" in stand_in
    roles = [(c[c.index("--role") + 1], c[c.index("--ods") + 1]) for c in hgw.calls if c[:2] == ("clients", "add")]
    assert roles == [("trust", "RBA"), ("provider", "VNFKT"), ("trust", "RZZ"), ("provider", "VNCEL")]
    # each party holds the private half of the JWKS registered for its client
    for party in parties.values():
        [public] = hgw.registered[party.key.client_id]["keys"]
        assert public["kid"] == party.key.kid and "d" not in public
        token = jwt.encode({"sub": party.name}, party.key.private_key_pem, algorithm="ES384")
        verifying = jwt.PyJWK.from_dict(public, algorithm="ES384").key
        assert jwt.decode(token, verifying, algorithms=["ES384"])["sub"] == party.name


def test_what_the_store_has_is_left_alone() -> None:
    hgw = FakeHgw(providers=["VNFKT", "VNCEL"], organisations=["RBA", "RZZ"], contacts=["RBA", "RZZ"])
    register_preset(hgw, ODS)
    assert {c[:2] for c in hgw.calls} == {("providers", "list"), ("organisations", "list"), ("clients", "add")}


def test_a_command_runs_as_a_subprocess_and_its_json_is_returned(tmp_path: Path) -> None:
    assert Hgw(["--data-dir", str(tmp_path)])("db", "upgrade")["revision"] == "head"
    assert (tmp_path / "hgw.sqlite3").exists()


def test_a_failing_command_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="hgw no-such-command failed"):
        Hgw(["--data-dir", str(tmp_path)])("no-such-command")
