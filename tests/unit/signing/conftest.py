"""Fixtures for signing: a key store on a ticking clock, and a real outbound order bundle."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.fhir.serialise import loads_bundle
from gateway.signing.keys import SigningKeyStore
from tests.paths import DATA
from tests.unit.signing.support import NOW

ORDER = DATA / "fhir" / "order-injectable-with-ancillary" / "expected.json"


class TickingClock:
    """NOW, then a minute later at every call: keys made one after another sort by age."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return NOW + timedelta(minutes=self.calls)


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def store(tmp_path: Path, clock: TickingClock) -> SigningKeyStore:
    return SigningKeyStore.load_or_create(tmp_path, "test", clock=clock)


@pytest.fixture
def order_bundle() -> dict[str, Any]:
    return loads_bundle(ORDER.read_bytes())


def medication_request_refs(bundle: dict[str, Any]) -> list[str]:
    return [e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
