"""Chooses the homecare provider for a prescription: the one it names, else the first matching routing rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.domain.model import HomecarePrescription

if TYPE_CHECKING:
    from gateway.store.tables import Provider, RoutingRule


@dataclass(frozen=True, slots=True)
class Route:
    """The chosen provider, or None with the reason the prescription is held."""

    provider_ods: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Router:
    """A snapshot of providers and rules, loaded once per export so routing a 5,000-line file costs no queries."""

    providers: dict[str, Provider]
    rules: list[RoutingRule]

    def __post_init__(self) -> None:
        # Lower priority numbers win; the rule id breaks ties, so the outcome never depends on load order.
        self.rules.sort(key=lambda r: (r.priority, r.id or 0))

    def route(self, p: HomecarePrescription, *, exclude: frozenset[str] = frozenset()) -> Route:
        """The provider for `p`, never one in `exclude` (providers that returned it): a named provider that is
        excluded leaves the choice to the rules."""
        if p.provider_ods and p.provider_ods not in exclude:
            provider = self.providers.get(p.provider_ods)
            if provider is None:
                return Route(None, f"provider {p.provider_ods} named on the prescription is not registered")
            if not provider.active:
                return Route(None, f"provider {p.provider_ods} named on the prescription is inactive")
            return Route(provider.ods, "named on the prescription")
        dmd_codes = {item.dmd_code for item in p.items}
        service = p.service_type.value if p.service_type else None
        for rule in self.rules:
            if rule.trust_ods and rule.trust_ods != p.trust_ods:
                continue
            if rule.dmd_code and rule.dmd_code not in dmd_codes:
                continue
            if rule.service_type and rule.service_type != service:
                continue
            provider = self.providers.get(rule.provider_ods)
            if provider is None or not provider.active or provider.ods in exclude:
                continue
            return Route(provider.ods, f"routing rule {rule.id}")
        return Route(None, "no provider named and no routing rule matches")
