"""Administration: providers and routing rules."""

from __future__ import annotations

from gateway import audit
from gateway.domain.identifiers import is_valid_ods_code
from gateway.errors import ConflictError, InputError, Issue, Location
from gateway.services.context import Gateway
from gateway.store import repository
from gateway.store.tables import Provider, RoutingRule


async def add_provider(gw: Gateway, *, ods: str, name: str, mode: str, endpoint: str | None = None) -> Provider:
    ods = ods.strip().upper()
    issues = []
    if not is_valid_ods_code(ods):
        issues.append(
            Issue(
                code="INVALID_ODS_CODE",
                message="not an ODS organisation code",
                location=Location(column="--ods"),
                value=ods,
                expected="3, 5 or 6 letters and digits",
            )
        )
    if mode not in ("push", "pull"):
        issues.append(
            Issue(
                code="INVALID_VALUE",
                message="unknown delivery mode",
                location=Location(column="--mode"),
                value=mode,
                expected="push or pull",
            )
        )
    if mode == "push" and not endpoint:
        issues.append(
            Issue(
                code="MISSING_VALUE",
                message="a push provider needs an endpoint",
                location=Location(column="--endpoint"),
                expected="the provider's $process-message URL",
            )
        )
    if issues:
        raise InputError(issues)
    async with gw.sessions() as session, session.begin():
        if await repository.get_by_id(session, Provider, ods) is not None:
            raise ConflictError(f"provider {ods} is already registered")
        provider = Provider(ods=ods, name=name, mode=mode, endpoint=endpoint, active=True, created_at=gw.clock())
        session.add(provider)
        await audit.append(
            session,
            gw.clock,
            audit.SYSTEM,
            "configuration.change",
            "provider",
            ods,
            "success",
            {"change": "provider-added", "mode": mode},
        )
    return provider


async def add_route(
    gw: Gateway,
    *,
    provider_ods: str,
    trust_ods: str | None = None,
    dmd_code: str | None = None,
    service_type: str | None = None,
    priority: int = 100,
) -> RoutingRule:
    """A routing rule; blank criteria match everything, so a rule with none is the default route."""
    async with gw.sessions() as session, session.begin():
        if await repository.get_by_id(session, Provider, provider_ods) is None:
            raise InputError(
                [
                    Issue(
                        code="UNKNOWN_PROVIDER",
                        message="register the provider first",
                        location=Location(column="--provider"),
                        value=provider_ods,
                        expected="a registered provider ODS code",
                    )
                ]
            )
        rule = RoutingRule(
            priority=priority,
            trust_ods=trust_ods,
            dmd_code=dmd_code,
            service_type=service_type,
            provider_ods=provider_ods,
            created_at=gw.clock(),
        )
        session.add(rule)
        await session.flush()
        await audit.append(
            session,
            gw.clock,
            audit.SYSTEM,
            "configuration.change",
            "routing-rule",
            str(rule.id),
            "success",
            {"change": "route-added", "provider": provider_ods},
        )
    return rule


async def providers(gw: Gateway) -> list[Provider]:
    async with gw.sessions() as session:
        return await repository.list_providers(session)


async def routes(gw: Gateway) -> list[RoutingRule]:
    async with gw.sessions() as session:
        return await repository.list_rules(session)
