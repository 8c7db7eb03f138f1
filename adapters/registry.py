"""The adapter registry: every trust format's adapter, built once, looked up by format name or media type."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from adapters.ascribe import AscribeAdapter
from adapters.base import Adapter
from adapters.fhir import FhirAdapter
from adapters.hl7v2 import Hl7v2Adapter
from adapters.jac import JacAdapter


@cache
def registered_adapters() -> Mapping[str, Adapter]:
    """Every adapter by its format name ("jac", "ascribe", "fhir", "hl7v2"), built on the first call only.

    Adapters keep no state between payloads, so one instance of each serves every request.
    """
    adapters: list[Adapter] = [JacAdapter(), AscribeAdapter(), FhirAdapter(), Hl7v2Adapter()]
    return MappingProxyType({a.name: a for a in adapters})


def adapter_for(media_type: str) -> Adapter | None:
    """The adapter for a Content-Type (parameters such as charset are ignored)."""
    base = media_type.split(";", 1)[0].strip().lower()
    for adapter in registered_adapters().values():
        if base in adapter.media_types:
            return adapter
    return None
