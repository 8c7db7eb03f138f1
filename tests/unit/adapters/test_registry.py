"""The adapter registry builds each adapter once and hands the same object to every lookup."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import adapters
from adapters import registry

ADAPTER_CLASSES = ("JacAdapter", "AscribeAdapter", "FhirAdapter", "Hl7v2Adapter")


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count the adapters the registry constructs, starting from an empty registry."""
    counts: Counter[str] = Counter()
    for name in ADAPTER_CLASSES:
        cls = getattr(registry, name)

        def counting(*args: Any, _cls: type = cls, **kwargs: Any) -> Any:
            counts[_cls.__name__] += 1
            return _cls(*args, **kwargs)

        monkeypatch.setattr(registry, name, counting)
    registry.registered_adapters.cache_clear()
    yield counts
    registry.registered_adapters.cache_clear()


def test_each_adapter_is_built_once_however_often_it_is_looked_up(built: Counter[str]) -> None:
    first = adapters.registered_adapters()
    assert sorted(first) == ["ascribe", "fhir", "hl7v2", "jac"]
    for _ in range(3):
        assert adapters.registered_adapters() is first
        for name, adapter in first.items():
            assert adapters.registered_adapters()[name] is adapter
            for media_type in adapter.media_types:
                assert adapters.adapter_for(media_type) is adapter
                assert adapters.adapter_for(f"{media_type.upper()}; charset=utf-8") is adapter
    assert built == dict.fromkeys(ADAPTER_CLASSES, 1)


def test_an_unknown_media_type_has_no_adapter(built: Counter[str]) -> None:
    assert adapters.adapter_for("application/pdf") is None


def test_the_registry_cannot_be_changed_by_a_caller() -> None:
    with pytest.raises(TypeError):
        adapters.registered_adapters()["jac"] = adapters.registered_adapters()["fhir"]  # type: ignore[index]
