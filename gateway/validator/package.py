"""The conformance resources of `fhir_profiles/` (or another folder of FHIR JSON), read once and found by URL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fhir_profiles

FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"
CONFORMANCE_TYPES = frozenset(
    {"StructureDefinition", "ValueSet", "CodeSystem", "MessageDefinition", "CapabilityStatement", "Measure"}
)


class PackageError(Exception):
    """A conformance resource is missing or unusable (a packaging fault, not bad input)."""


@dataclass
class Package:
    """Conformance resources by canonical URL, and where each came from."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Package:
        """Every conformance resource under `path` (default: the installed `fhir_profiles` package)."""
        root = path or fhir_profiles.PACKAGE_DIR
        package = cls()
        for file in sorted(root.rglob("*.json")):
            try:
                data = json.loads(file.read_bytes())
            except ValueError as exc:
                raise PackageError(f"{file} is not JSON: {exc}") from exc
            if isinstance(data, dict) and data.get("resourceType") in CONFORMANCE_TYPES and "url" in data:
                package.add(data, file)
        if not package.resources:
            raise PackageError(f"no conformance resources under {root}")
        return package

    def add(self, resource: dict[str, Any], path: Path | None = None) -> None:
        url = resource["url"]
        if url in self.resources:
            raise PackageError(f"two conformance resources have the URL {url}")
        self.resources[url] = resource
        if path is not None:
            self.paths[url] = path

    def get(self, url: str) -> dict[str, Any] | None:
        """The resource with this canonical URL (a `|version` suffix is ignored)."""
        return self.resources.get(url.split("|", 1)[0])

    def require(self, url: str, resource_type: str) -> dict[str, Any]:
        resource = self.get(url)
        if resource is None or resource.get("resourceType") != resource_type:
            raise PackageError(f"no {resource_type} {url} in the package")
        return resource

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.resources.values() if r.get("resourceType") == resource_type]

    def base_definition(self, type_code: str) -> dict[str, Any] | None:
        """The FHIR base StructureDefinition of a resource or datatype, when the package has it."""
        return self.get(FHIR_SD + type_code)
