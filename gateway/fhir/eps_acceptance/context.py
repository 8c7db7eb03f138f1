"""A message Bundle seen as EPS's coordinator sees it: entries by fullUrl, resources by type, FHIRPaths to them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def as_list(value: Any) -> list[Any]:
    """A FHIR repeating element as a list ([] when absent or of the wrong shape)."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def canonical(value: Any) -> str:
    """A JSON value written one way, so that equal values compare equal (EPS compares values, not spelling)."""
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def extensions(element: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in as_list(element.get("extension")) if isinstance(e, dict) and e.get("url") == url]


def identifiers(resource: dict[str, Any], system: str) -> list[dict[str, Any]]:
    return [i for i in as_list(resource.get("identifier")) if isinstance(i, dict) and i.get("system") == system]


@dataclass
class Message:
    """The Bundle's entries, with the FHIRPath of each resource."""

    bundle: dict[str, Any]
    by_url: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, entry in enumerate(self.entries):
            url = as_dict(entry).get("fullUrl")
            if isinstance(url, str):
                self.by_url.setdefault(url, []).append(index)

    @property
    def entries(self) -> list[Any]:
        return as_list(self.bundle.get("entry"))

    def resource(self, index: int) -> dict[str, Any]:
        return as_dict(as_dict(self.entries[index]).get("resource"))

    def path(self, index: int) -> str:
        return f"Bundle.entry[{index}].resource"

    def of_type(self, resource_type: str) -> list[tuple[int, dict[str, Any]]]:
        return [
            (i, self.resource(i))
            for i in range(len(self.entries))
            if self.resource(i).get("resourceType") == resource_type
        ]

    def resolve(self, reference: Any) -> tuple[int, dict[str, Any]] | None:
        """The one entry a `{"reference": fullUrl}` names, else None (EPS needs exactly one)."""
        target = as_dict(reference).get("reference")
        found = self.by_url.get(target, []) if isinstance(target, str) else []
        return (found[0], self.resource(found[0])) if len(found) == 1 else None

    @property
    def event(self) -> str | None:
        header = self.resource(0) if self.entries else {}
        code = as_dict(header.get("eventCoding")).get("code")
        return code if header.get("resourceType") == "MessageHeader" and isinstance(code, str) else None
