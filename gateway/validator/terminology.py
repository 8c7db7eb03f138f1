"""ValueSet expansion over the bundled CodeSystems, and the compiled form of an element's binding.

A code system the package does not hold completely (SNOMED CT, dm+d, UCUM, NHS code systems we only hold a
fragment of) cannot be checked offline: codes from it are "unchecked", reported as information, never as errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from gateway.validator.package import Package, PackageError

BINDING_CODES_URL: Final = "https://fhir.homecaregateway.uk/StructureDefinition/Extension-BindingCode"


@dataclass(frozen=True, slots=True)
class Expansion:
    """The (system, code) pairs of a ValueSet, the systems whose codes cannot all be known, and displays."""

    codes: frozenset[tuple[str, str]]
    open_systems: frozenset[str]
    displays: dict[tuple[str, str], str]

    def contains(self, system: str | None, code: str) -> bool | None:
        """True or False when it can be decided offline, None when the system cannot be checked here."""
        if type(system) is not str:
            return False  # a Coding without a system (or with a malformed one, reported by its type) is in none
        if (system, code) in self.codes:
            return True
        return None if system in self.open_systems else False


@dataclass(frozen=True, slots=True)
class Binding:
    """A compiled ElementDefinition.binding; `plain_codes` is for `code` elements whose system is implied."""

    strength: str
    value_set: str
    expansion: Expansion
    plain_codes: frozenset[str]


class Terminology:
    """Expands the package's ValueSets (cached)."""

    def __init__(self, package: Package) -> None:
        self._package = package
        self._cache: dict[str, Expansion] = {}

    def expand(self, url: str) -> Expansion:
        key = url.split("|", 1)[0]
        cached = self._cache.get(key)
        if cached is None:
            cached = self._expand(self._package.require(key, "ValueSet"), set())
            self._cache[key] = cached
        return cached

    def _expand(self, value_set: dict[str, Any], seen: set[str]) -> Expansion:
        codes: set[tuple[str, str]] = set()
        open_systems: set[str] = set()
        displays: dict[tuple[str, str], str] = {}
        compose = value_set.get("compose", {})
        for include in compose.get("include", []):
            for nested in include.get("valueSet", []):
                if nested in seen:
                    raise PackageError(f"ValueSet {nested} includes itself")
                inner = self._expand(self._package.require(nested, "ValueSet"), seen | {nested})
                codes |= inner.codes
                open_systems |= inner.open_systems
                displays.update(inner.displays)
            system = include.get("system")
            if system is None:
                continue
            if "concept" in include:
                for concept in include["concept"]:
                    codes.add((system, concept["code"]))
                    if "display" in concept:
                        displays[(system, concept["code"])] = concept["display"]
                continue
            code_system = self._package.get(system)
            if code_system is None or code_system.get("content") != "complete":
                open_systems.add(system)
            if code_system is not None:
                for code, display in _concepts(code_system.get("concept", [])):
                    codes.add((system, code))
                    if display is not None:
                        displays[(system, code)] = display
        for exclude in compose.get("exclude", []):
            for concept in exclude.get("concept", []):
                codes.discard((exclude.get("system", ""), concept["code"]))
        return Expansion(frozenset(codes), frozenset(open_systems), displays)

    def binding(self, element: dict[str, Any]) -> Binding | None:
        """The binding of an ElementDefinition, compiled; None when it has none or is only an example."""
        raw = element.get("binding")
        if not raw or raw.get("strength") not in ("required", "extensible", "preferred"):
            return None
        inline = [e["valueCode"] for e in raw.get("extension", []) if e.get("url") == BINDING_CODES_URL]
        if inline:
            expansion = Expansion(frozenset(), frozenset(), {})
            return Binding(raw["strength"], "(FHIR core codes)", expansion, frozenset(inline))
        url = raw.get("valueSet")
        if not url:
            return None
        expansion = self.expand(url)
        return Binding(raw["strength"], url.split("|", 1)[0], expansion, frozenset(c for _, c in expansion.codes))

    def displays_of(self, system: str) -> dict[str, str] | None:
        """code → display of a complete bundled CodeSystem, for display checks; None otherwise."""
        code_system = self._package.get(system)
        if code_system is None or code_system.get("resourceType") != "CodeSystem":
            return None
        if code_system.get("content") != "complete":
            return None
        return {code: display for code, display in _concepts(code_system.get("concept", [])) if display is not None}


def _concepts(concepts: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for concept in concepts:
        out.append((concept["code"], concept.get("display")))
        out.extend(_concepts(concept.get("concept", [])))
    return out
