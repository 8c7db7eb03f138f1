"""State of one validation run: the findings so far, the references to resolve, the resource being walked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.errors import Location, Severity
from gateway.validator.issues import ValidationIssue
from gateway.validator.model import Element

_MAX_VALUE_CHARS = 200


@dataclass(slots=True)
class Frame:
    """The resource a value belongs to: its type, its path, its contained resources (id → type)."""

    resource_type: str
    path: str
    contained: dict[str, str]
    parent: Frame | None = None
    resource: Any = None  # the resource itself (%resource of its invariants)
    root: Any = None  # the resource it is contained in, else itself (%rootResource)

    def container(self) -> Frame:
        frame = self
        while frame.parent is not None:
            frame = frame.parent
        return frame


@dataclass(slots=True)
class Ref:
    """A Reference.reference met during the walk, checked once its Bundle is known."""

    path: str
    reference: str
    targets: frozenset[str] | None
    element: Element
    frame: Frame
    identified: bool = False  # the Reference also carries an identifier, which names its target on its own


@dataclass(slots=True)
class Context:
    issues: list[ValidationIssue] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    frame: Frame | None = None
    reported_extensions: set[str] = field(default_factory=set)
    reported_systems: set[str] = field(default_factory=set)

    def add(
        self,
        code: str,
        message: str,
        path: str,
        element: Element | None = None,
        *,
        severity: Severity = "error",
        value: Any = None,
        expected: str | None = None,
        profile: str | None = None,
    ) -> None:
        shown = None
        if value is not None and not isinstance(value, dict | list):
            shown = str(value)[:_MAX_VALUE_CHARS]
        self.issues.append(ValidationIssue(
            code=code,
            message=message,
            location=Location(path=path),
            severity=severity,
            value=shown,
            expected=expected,
            profile=element.profile if element is not None else profile,
            element=element.id if element is not None else None,
        ))

    def has_errors(self) -> bool:
        return any(i.severity in ("error", "fatal") for i in self.issues)
