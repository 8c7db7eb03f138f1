"""`Validator`: load `fhir_profiles/` once, then validate resources against profiles in one pass each."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from gateway.fhir import urls
from gateway.validator import issues as codes
from gateway.validator.compiler import Compiler
from gateway.validator.context import Context
from gateway.validator.domain import coding_hook, dispense_consistency, identifier_hook, prescription_consistency
from gateway.validator.issues import ValidationIssue
from gateway.validator.model import Element
from gateway.validator.package import Package
from gateway.validator.profiles import CAPABILITY_STATEMENT, default_profile
from gateway.validator.references import bundle_rules, outside_bundles
from gateway.validator.terminology import Terminology
from gateway.validator.walker import ResourceRule, TypeHook, Walker


class Validator:
    """Validates FHIR R4 JSON (dicts as `json.loads` gives them; Decimal numbers welcome) against the package."""

    def __init__(self, package: Package, *, best_practice: bool = False) -> None:
        """`best_practice`: also evaluate best-practice invariants (dom-6) and the narrative checks (txt-1, txt-2),
        which are off by default."""
        self.package = package
        self.terminology = Terminology(package)
        self._compiler = Compiler(package, self.terminology, self._conforms, best_practice=best_practice)
        complete = frozenset(cs["url"] for cs in package.of_type("CodeSystem") if cs.get("content") == "complete")
        hooks: dict[str, TypeHook] = {
            "Identifier": (identifier_hook, frozenset({urls.NHS_NUMBER, urls.PRESCRIPTION_ORDER_NUMBER})),
            "Coding": (self._coding_hook, complete | {urls.SNOMED}),
        }
        rules: dict[str, list[ResourceRule]] = {
            "Bundle": [bundle_rules, prescription_consistency, dispense_consistency]
        }
        self._walker = Walker(package, self._compiler, self.terminology, hooks, rules, self._choose_profile)
        self._warm()

    @classmethod
    def from_package(cls, path: Path | None = None, *, best_practice: bool = False) -> Validator:
        """A validator over `path` (default: the installed `fhir_profiles`); the default one is built once."""
        if path is None and not best_practice:
            return _default_validator()
        return cls(Package.load(path), best_practice=best_practice)

    def _warm(self) -> None:
        """Compile every profile now, so that the first validation is as fast as the rest and faults show early."""
        for sd in self.package.of_type("StructureDefinition"):
            self._compiler.profile(sd["url"])

    def validate(self, resource: Any, profile: str | None = None) -> list[ValidationIssue]:
        """Every finding about `resource`, located by FHIRPath; the profile defaults to meta.profile, then to the
        base message profile of a message Bundle's event, then to the base definition of its type."""
        ctx = Context()
        path = resource.get("resourceType") if isinstance(resource, dict) else None
        root = path if isinstance(path, str) else "$this"
        try:
            self._walker.resource(resource, root, profile, ctx)
        except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
            # A value of the wrong JSON type that a later rule read as if it had the right one. Its type is
            # usually reported already; validation never raises on input, whatever its shape.
            ctx.add(codes.INVALID_TYPE, "part of the resource has a JSON type its element does not allow, and "
                    f"validation stopped there ({type(exc).__name__}); fix the reported types and validate again",
                    root, severity="fatal")
        outside_bundles(ctx)
        return ctx.issues

    def profiles(self) -> list[str]:
        """Canonical URLs of the profiles (constraints) in the package."""
        return sorted(sd["url"] for sd in self.package.of_type("StructureDefinition")
                      if sd.get("derivation") == "constraint")

    def capability_statement(self) -> dict[str, Any]:
        return self.package.require(CAPABILITY_STATEMENT, "CapabilityStatement")

    def knows_profile(self, url: str) -> bool:
        return self._compiler.has_profile(url)

    # --- internals -------------------------------------------------------------------------------------------------
    def _choose_profile(self, resource: dict[str, Any]) -> str | None:
        meta = resource.get("meta")
        declared = meta.get("profile") if type(meta) is dict else None
        if type(declared) is list:
            for url in declared:
                if type(url) is str and self._compiler.has_profile(url):
                    return url
        return default_profile(resource)

    def _conforms(self, value: Any, profile: str) -> bool:
        """Whether `value` has no error against `profile` (for profile discriminators)."""
        ctx = Context()
        compiled = self._compiler.profile(profile)
        if isinstance(value, dict) and "resourceType" in value:
            self._walker.resource(value, compiled.type, profile, ctx)
        elif isinstance(value, dict):
            self._walker.object(compiled.node, value, compiled.type, ctx)
        else:
            return False
        return not ctx.has_errors()

    def _coding_hook(self, item: dict[str, Any], path: str, element: Element, ctx: Context) -> None:
        """SNOMED CT check digits (domain.coding_hook), and the display of codes of complete CodeSystems."""
        system = item.get("system")
        if system == urls.SNOMED:
            coding_hook(item, path, element, ctx)
        display = item.get("display")
        if type(system) is not str or type(display) is not str:
            return
        table = self._walker.display_table(system)
        if table is None:
            return
        expected = table.get(item.get("code"))  # type: ignore[arg-type]
        if expected is not None and expected != display:
            ctx.add(codes.DISPLAY_MISMATCH, f"display {display!r} is not the display of this code in {system}",
                    path + ".display", element, severity="warning", value=display, expected=expected)


@functools.lru_cache(maxsize=1)
def _default_validator() -> Validator:
    return Validator(Package.load())
