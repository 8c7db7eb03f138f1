"""Trust-side adapters: one package per source format, each parsing into the canonical `HomecarePrescription`."""

from adapters.base import Adapter, ParsedPrescription, ParseResult
from adapters.registry import adapter_for, registered_adapters

__all__ = ["Adapter", "ParseResult", "ParsedPrescription", "adapter_for", "registered_adapters"]
