"""The gateway's FHIR conformance resources (JSON), located at run time whether installed or not."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).parent


def resource_paths() -> list[Path]:
    """Every conformance resource file in the package."""
    return sorted(p for p in PACKAGE_DIR.rglob("*.json"))
