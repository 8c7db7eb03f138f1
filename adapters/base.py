"""The adapter interface: what an adapter makes of a payload. It imports no adapter (adapters/registry.py does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from gateway.domain.model import HomecarePrescription
from gateway.errors import Issue


@dataclass(slots=True)
class ParsedPrescription:
    """One prescription found in an export: the canonical model when it is valid, else its located errors."""

    rx_number: str
    rx_version: str
    lines: list[int]
    prescription: HomecarePrescription | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity in ("error", "fatal")]

    @property
    def accepted(self) -> bool:
        return self.prescription is not None and not self.errors


@dataclass(slots=True)
class ParseResult:
    """What an adapter made of a whole payload. File-level errors reject everything."""

    format: str
    prescriptions: list[ParsedPrescription] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)

    @property
    def file_rejected(self) -> bool:
        return any(i.severity in ("error", "fatal") for i in self.file_issues)


class Adapter(Protocol):
    """Parses one source format into canonical prescriptions."""

    name: str
    media_types: tuple[str, ...]

    def parse(self, payload: bytes) -> ParseResult: ...
