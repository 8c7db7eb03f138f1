"""Administration: providers and routing rules, from the `hgw` command line and the operator API.

Every change is validated first (each problem located: the CLI flag in `column`, the JSON field in `path`) and
audited as `configuration.change` in its own transaction. Callers through the API are `Principal`s and must be
operators; the command line acts as the gateway itself (`audit.SYSTEM`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.audit.event import Detail
from gateway.context import Gateway
from gateway.delivery.rerouting import reroute_returned
from gateway.domain.identifiers import is_valid_ods_code
from gateway.domain.model import ServiceType
from gateway.domain.principal import Principal, Role, require_role
from gateway.errors import ConflictError, InputError, Issue, Location, NotFoundError
from gateway.security.outbound import check_url as check_outbound
from gateway.store import prescription_rows, provider_rows, repository
from gateway.store import routing as routing_store
from gateway.store.tables import Prescription, Provider, RoutingRule

OPERATIONS = ("operations",)
MODES = ("push", "pull")
SERVICE_TYPES = tuple(s.value for s in ServiceType)


class Keep(Enum):
    KEEP = "keep"


KEEP = Keep.KEEP  # "leave this field as it is" in an update (None clears a field that may be blank)


@dataclass(frozen=True, slots=True)
class HeldRouting:
    """What routing a held prescription again did: the provider it now goes to, or None (still held)."""

    short_form_id: str
    provider_ods: str | None
    reason: str


def _authorise(actor: audit.Actor) -> None:
    if isinstance(actor, Principal):
        require_role(actor, Role.OPERATOR, scopes=OPERATIONS)


def _issue(code: str, message: str, column: str, path: str, value: object, expected: str) -> Issue:
    shown = None if value is None else str(value)[:200]
    return Issue(code, message, Location(column=column, path=path), value=shown, expected=expected)


def _check_provider(ods: str | None, name: str | None, mode: str | None, endpoint: str | None) -> list[Issue]:
    """Problems with provider fields (None: not being set); `endpoint` is checked against the resulting `mode`."""
    issues = []
    if ods is not None and not is_valid_ods_code(ods):
        issues.append(
            _issue("INVALID_ODS_CODE", "not an ODS code", "--ods", "ods", ods, "3, 5 or 6 letters and digits")
        )
    if name is not None and not (0 < len(name.strip()) <= 200):
        issues.append(_issue("INVALID_VALUE", "a provider needs a name", "--name", "name", name, "1 to 200 characters"))
    if mode is not None and mode not in MODES:
        issues.append(_issue("INVALID_VALUE", "unknown delivery mode", "--mode", "mode", mode, "push or pull"))
    if endpoint:
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname or len(endpoint) > 2000:
            issues.append(
                _issue("INVALID_VALUE", "not an http(s) URL", "--endpoint", "endpoint", endpoint, "https://host/path")
            )
    elif mode == "push":
        issues.append(
            _issue(
                "MISSING_VALUE",
                "a push provider needs an endpoint",
                "--endpoint",
                "endpoint",
                None,
                "the provider's $process-message URL",
            )
        )
    return issues


async def add_provider(
    gw: Gateway,
    *,
    ods: str,
    name: str,
    mode: str,
    endpoint: str | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> Provider:
    _authorise(actor)
    ods = ods.strip().upper()
    issues = _check_provider(ods, name, mode, endpoint)
    if issues:
        raise InputError(issues)
    if endpoint:
        await _check_destination(gw, endpoint)
    async with gw.sessions() as session, session.begin():
        if await repository.get_by_id(session, Provider, ods) is not None:
            raise ConflictError(f"provider {ods} is already registered")
        provider = Provider(
            ods=ods, name=name.strip(), mode=mode, endpoint=endpoint, active=True, created_at=gw.clock()
        )
        repository.save(session, provider)
        await _audit_change(session, gw, actor, "provider", ods, {"change": "provider-added", "mode": mode})
    return provider


async def update_provider(
    gw: Gateway,
    ods: str,
    *,
    name: str | None = None,
    mode: str | None = None,
    endpoint: str | None | Keep = KEEP,
    active: bool | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> Provider:
    """Change what is given. An inactive provider gets no new orders; those already queued for it wait."""
    _authorise(actor)
    if isinstance(endpoint, str) and endpoint:
        await _check_destination(gw, endpoint)
    async with gw.sessions() as session, session.begin():
        await provider_rows.hold_provider(session, ods.strip().upper(), exclusive=True)  # waits for releases in flight
        provider: Provider | None = await repository.get_by_id(session, Provider, ods.strip().upper())
        if provider is None:
            raise NotFoundError(f"provider {ods} is not registered")
        new_mode = mode if mode is not None else provider.mode
        new_endpoint = provider.endpoint if endpoint is KEEP else endpoint
        issues = _check_provider(None, name, new_mode, new_endpoint)
        if issues:
            raise InputError(issues)
        changed = []
        for field, value in (("name", name), ("mode", mode), ("active", active)):
            if value is not None and getattr(provider, field) != value:
                setattr(provider, field, value.strip() if isinstance(value, str) and field == "name" else value)
                changed.append(field)
        if endpoint is not KEEP and provider.endpoint != endpoint:
            provider.endpoint = endpoint
            changed.append("endpoint")
        if changed:
            repository.save(session, provider)
            detail = {"change": "provider-updated", "fields": ",".join(changed)}
            await _audit_change(session, gw, actor, "provider", provider.ods, detail)
    return provider


async def _check_destination(gw: Gateway, endpoint: str) -> None:
    """The outbound policy on a provider endpoint: https, to public addresses or an allowed range."""
    await check_outbound(gw.outbound, gw.resolver, endpoint, code="INVALID_VALUE", column="--endpoint", path="endpoint")


def _check_rule(
    provider_ods: str | None,
    trust_ods: str | None,
    dmd_code: str | None,
    service_type: str | None,
    priority: int | None,
) -> list[Issue]:
    issues = []
    if provider_ods is not None and not is_valid_ods_code(provider_ods):
        issues.append(
            _issue(
                "INVALID_ODS_CODE",
                "not an ODS organisation code",
                "--provider",
                "provider_ods",
                provider_ods,
                "a registered provider ODS code",
            )
        )
    if trust_ods and not is_valid_ods_code(trust_ods):
        issues.append(
            _issue(
                "INVALID_ODS_CODE",
                "not an ODS organisation code",
                "--trust",
                "trust_ods",
                trust_ods,
                "3, 5 or 6 letters and digits, or blank for any trust",
            )
        )
    if dmd_code and not (dmd_code.isascii() and dmd_code.isdigit() and 6 <= len(dmd_code) <= 18):
        issues.append(
            _issue(
                "INVALID_VALUE",
                "not a dm+d code",
                "--dmd",
                "dmd_code",
                dmd_code,
                "a SNOMED CT dm+d concept id (6 to 18 digits), or blank for any product",
            )
        )
    if service_type and service_type not in SERVICE_TYPES:
        issues.append(
            _issue(
                "INVALID_VALUE",
                "unknown homecare service type",
                "--service-type",
                "service_type",
                service_type,
                ", ".join(SERVICE_TYPES) + ", or blank for any",
            )
        )
    if priority is not None and not (0 <= priority <= 1_000_000):
        issues.append(
            _issue(
                "INVALID_VALUE",
                "priority out of range",
                "--priority",
                "priority",
                priority,
                "0 to 1000000 (lower wins)",
            )
        )
    return issues


def _unknown_provider(provider_ods: str) -> InputError:
    return InputError(
        [
            _issue(
                "UNKNOWN_PROVIDER",
                "register the provider first",
                "--provider",
                "provider_ods",
                provider_ods,
                "a registered provider ODS code",
            )
        ]
    )


async def add_route(
    gw: Gateway,
    *,
    provider_ods: str,
    trust_ods: str | None = None,
    dmd_code: str | None = None,
    service_type: str | None = None,
    priority: int = 100,
    actor: audit.Actor = audit.SYSTEM,
) -> RoutingRule:
    """A routing rule; blank criteria match everything, so a rule with none is the default route."""
    _authorise(actor)
    provider_ods = provider_ods.strip().upper()
    trust_ods = trust_ods.strip().upper() if trust_ods else None
    issues = _check_rule(provider_ods, trust_ods, dmd_code, service_type, priority)
    if issues:
        raise InputError(issues)
    async with gw.sessions() as session, session.begin():
        if await repository.get_by_id(session, Provider, provider_ods) is None:
            raise _unknown_provider(provider_ods)
        rule = RoutingRule(
            priority=priority,
            trust_ods=trust_ods,
            dmd_code=dmd_code or None,
            service_type=service_type or None,
            provider_ods=provider_ods,
            created_at=gw.clock(),
        )
        repository.save(session, rule)
        await repository.save_now(session)
        await _audit_change(
            session, gw, actor, "routing-rule", str(rule.id), {"change": "route-added", "provider": provider_ods}
        )
    return rule


async def update_route(
    gw: Gateway,
    rule_id: int,
    *,
    provider_ods: str | None = None,
    trust_ods: str | None | Keep = KEEP,
    dmd_code: str | None | Keep = KEEP,
    service_type: str | None | Keep = KEEP,
    priority: int | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> RoutingRule:
    """Change the parts of a rule given (None clears a criterion: it then matches everything)."""
    _authorise(actor)
    provider_ods = provider_ods.strip().upper() if provider_ods else None
    if isinstance(trust_ods, str):
        trust_ods = trust_ods.strip().upper() or None
    issues = _check_rule(
        provider_ods,
        trust_ods if isinstance(trust_ods, str) else None,
        dmd_code if isinstance(dmd_code, str) else None,
        service_type if isinstance(service_type, str) else None,
        priority,
    )
    if issues:
        raise InputError(issues)
    async with gw.sessions() as session, session.begin():
        rule = await _rule(session, rule_id)
        if provider_ods is not None and await repository.get_by_id(session, Provider, provider_ods) is None:
            raise _unknown_provider(provider_ods)
        changed = []
        if provider_ods is not None and rule.provider_ods != provider_ods:
            rule.provider_ods = provider_ods
            changed.append("provider_ods")
        if priority is not None and rule.priority != priority:
            rule.priority = priority
            changed.append("priority")
        criteria = {"trust_ods": trust_ods, "dmd_code": dmd_code, "service_type": service_type}
        for field, value in criteria.items():
            if isinstance(value, Keep):
                continue
            if getattr(rule, field) != (value or None):
                setattr(rule, field, value or None)
                changed.append(field)
        if changed:
            repository.save(session, rule)
            detail = {"change": "route-updated", "fields": ",".join(changed)}
            await _audit_change(session, gw, actor, "routing-rule", str(rule_id), detail)
    return rule


async def _rule(session: AsyncSession, rule_id: int) -> RoutingRule:
    # Ids are 32-bit in the store; a larger one names no rule (PostgreSQL would refuse to compare it).
    rule: RoutingRule | None = (
        await repository.get_by_id(session, RoutingRule, rule_id) if 0 < rule_id < 2**31 else None
    )
    if rule is None:
        raise NotFoundError(f"routing rule {rule_id} not found")
    return rule


async def remove_route(gw: Gateway, rule_id: int, *, actor: audit.Actor = audit.SYSTEM) -> RoutingRule:
    """Delete a rule. Prescriptions already routed by it keep their provider."""
    _authorise(actor)
    async with gw.sessions() as session, session.begin():
        rule = await _rule(session, rule_id)
        await repository.remove(session, rule)
        await _audit_change(
            session, gw, actor, "routing-rule", str(rule_id), {"change": "route-removed", "provider": rule.provider_ods}
        )
    return rule


async def providers(gw: Gateway, actor: audit.Actor = audit.SYSTEM) -> list[Provider]:
    _authorise(actor)
    async with gw.sessions() as session:
        return await provider_rows.list_providers(session)


async def routes(gw: Gateway, actor: audit.Actor = audit.SYSTEM) -> list[RoutingRule]:
    _authorise(actor)
    async with gw.sessions() as session:
        return await provider_rows.list_rules(session)


async def held(gw: Gateway, actor: audit.Actor = audit.SYSTEM, *, limit: int = 200) -> list[Prescription]:
    """Prescriptions waiting for a route (no provider, 0001 To be dispensed), oldest first, with the reason."""
    _authorise(actor)
    async with gw.sessions() as session:
        return await routing_store.held_prescriptions(session, limit=limit)


async def route_held(gw: Gateway, actor: audit.Actor = audit.SYSTEM, *, limit: int = 200) -> list[HeldRouting]:
    """Route the held prescriptions again with today's rules and providers (after a rule is added or a provider
    switched on), each in its own transaction; a provider that returned one is still left out. Those that
    still match nothing stay held, with the new reason."""
    _authorise(actor)
    async with gw.sessions() as session:
        ids = [(p.id, p.short_form_id) for p in await routing_store.held_prescriptions(session, limit=limit)]
    outcomes: list[HeldRouting] = []
    for prescription_id, short_form_id in ids:
        now = gw.clock()
        async with gw.sessions() as session, session.begin():
            p = await routing_store.lock_held(session, prescription_id)
            if p is None:
                continue  # routed, cancelled or expired meanwhile
            events = await prescription_rows.prescription_events(session, p.id)
            returned_by = frozenset(e.actor_ods for e in events if e.kind == "returned" and e.actor_ods)
            routed = await reroute_returned(session, gw, p, returned_by, "routed again by an operator", now)
            detail = {"change": "held-routed", "provider": routed.provider_ods or "none"}
            await _audit_change(session, gw, actor, "prescription", p.id, detail)
        if routed.provider_ods is not None:
            gw.outbox_signal.notify([routed.provider_ods])
        outcomes.append(HeldRouting(short_form_id, routed.provider_ods, routed.reason))
    return outcomes


async def _audit_change(
    session: AsyncSession, gw: Gateway, actor: audit.Actor, entity_type: str, entity_id: str, detail: Detail
) -> None:
    """The audit record of a configuration change, in the change's transaction."""
    await audit.append(session, gw.clock, actor, "configuration.change", entity_type, entity_id, "success", detail)
