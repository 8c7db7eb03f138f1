"""Alert administration behind `hgw alerts …`: listing, a one-off evaluation, threshold overrides."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.alerts.evaluate import evaluate
from gateway.alerts.notify import notifiers_from_settings
from gateway.alerts.rules import EVERY_PROVIDER, UNITS, Kind, RuleBook
from gateway.audit.event import Detail
from gateway.context import Gateway
from gateway.errors import InputError, Issue, Location, NotFoundError
from gateway.store import alerts as store
from gateway.store import repository
from gateway.store.tables import Alert, AlertRule, Provider


def alert_dict(alert: Alert) -> dict[str, Any]:
    return alert.model_dump(exclude={"open_key", "notify_after"})


async def list_alerts(gw: Gateway, *, include_resolved: bool, limit: int) -> list[dict[str, Any]]:
    async with gw.sessions() as session:
        states = ("open", "resolved") if include_resolved else ("open",)
        return [alert_dict(a) for a in await store.list_alerts(session, states=states, limit=limit)]


async def evaluate_once(gw: Gateway) -> dict[str, object]:
    return (await evaluate(gw, notifiers_from_settings(gw.settings, gw.http_transport))).as_dict()


async def list_rules(gw: Gateway) -> dict[str, Any]:
    async with gw.sessions() as session:
        rows = await store.list_rules(session)
    book = RuleBook.build(gw.settings, [])
    return {
        "defaults": {
            k.value: {"threshold": t.value, "unit": UNITS[k], "window_minutes": t.window_minutes, "on": t.value > 0}
            for k, t in book.defaults.items()
        },
        "overrides": [r.model_dump(exclude={"created_at", "updated_at"}) for r in rows],
        "resolve_after_seconds": book.resolve_after_seconds,
        "failure_min_attempts": book.min_attempts,
    }


async def _audit(session: AsyncSession, gw: Gateway, kind: Kind, provider_ods: str, detail: Detail) -> None:
    """Threshold changes are configuration changes; the command line acts as the gateway itself."""
    scope = "all" if provider_ods == EVERY_PROVIDER else provider_ods
    entity = f"{kind.value}:{scope}"
    await audit.append(session, gw.clock, audit.SYSTEM, "configuration.change", "alert-rule", entity, "success", detail)


def _bad(option: str, message: str, value: object) -> InputError:
    issue = Issue(code="INVALID_ALERT_RULE", message=message, location=Location(path=option), value=str(value))
    return InputError([issue])


async def set_rule(
    gw: Gateway,
    kind: Kind,
    provider_ods: str,
    *,
    threshold: float | None,
    window_minutes: float | None,
    enabled: bool = True,
) -> dict[str, Any]:
    """Create or change one override; a disabled override switches the rule off for its scope."""
    if threshold is not None and threshold < 0:
        raise _bad("--threshold", "a threshold cannot be negative", threshold)
    if kind is Kind.FAILURE_RATE and threshold is not None and threshold > 1:
        raise _bad("--threshold", "a failure rate is a ratio between 0 and 1", threshold)
    if window_minutes is not None and (kind is not Kind.FAILURE_RATE or window_minutes <= 0):
        raise _bad("--window-minutes", "a window is positive minutes, for failure-rate only", window_minutes)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        if provider_ods != EVERY_PROVIDER and await repository.get_by_id(session, Provider, provider_ods) is None:
            raise NotFoundError(f"provider {provider_ods} is not registered")
        rule = await store.find_rule(session, kind.value, provider_ods)
        if rule is None:
            if threshold is None and enabled:
                raise _bad("--threshold", "a new rule needs a threshold (or --disable)", None)
            rule = AlertRule(kind=kind.value, provider_ods=provider_ods, threshold=threshold or 0.0,
                             created_at=now, updated_at=now)
        if threshold is not None:
            rule.threshold = threshold
        if window_minutes is not None:
            rule.window_minutes = window_minutes
        rule.enabled = enabled
        rule.updated_at = now
        repository.save(session, rule)
        await repository.save_now(session)
        detail: Detail = {"change": "alert-rule-set", "threshold": str(rule.threshold), "enabled": rule.enabled}
        await _audit(session, gw, kind, provider_ods, detail)
        return rule.model_dump(exclude={"created_at", "updated_at"})


async def remove_rule(gw: Gateway, kind: Kind, provider_ods: str) -> dict[str, Any]:
    async with gw.sessions() as session, session.begin():
        rule = await store.find_rule(session, kind.value, provider_ods)
        if rule is None:
            raise NotFoundError(f"no {kind.value} rule for {provider_ods}")
        await store.delete_rule(session, rule)
        await _audit(session, gw, kind, provider_ods, {"change": "alert-rule-removed"})
    return {"removed": {"kind": kind.value, "provider_ods": provider_ods}}
