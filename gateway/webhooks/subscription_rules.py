"""What a webhook subscription request may ask for: its body read as a `SubscriptionChange`, and the checks of its
URL, format, event kinds, retry policy and owner, each failing with a located `InputError`.

A URL must be https, except that demo and test mode allow http to a loopback address (a receiver on the same
machine). A trust's subscription takes its lifecycle events in any format; a provider's, its invoice events as JSON.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway import audit
from gateway.delivery.policy import stored_policy
from gateway.domain.principal import Principal, Role
from gateway.errors import ForbiddenError, InputError, Issue, Location
from gateway.limits import load_json
from gateway.store.tables import WebhookSubscription
from gateway.store.webhooks import PROVIDER, TRUST
from gateway.webhooks import invoice_events, payload
from gateway.webhooks.relay import WebhookConfig

MAX_URL = 2000
_KIND = re.compile(r"[a-z][a-z0-9-]{0,39}")
_ODS = re.compile(r"[A-Z0-9]{3,12}")
_FIELDS = {"url", "format", "events", "active", "trust_ods", "provider_ods"}


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """What a request asks to set; None: leave as it is (or the default, for a new subscription)."""

    url: str | None = None
    format: str | None = None
    events: list[str] | None = None
    clear_events: bool = False
    active: bool | None = None
    trust_ods: str | None = None
    provider_ods: str | None = None


def parse_change(raw: bytes, *, creating: bool) -> SubscriptionChange:
    """A JSON request body as a change; located errors for anything wrong with it."""
    body = load_json(raw)  # bounded depth, width and numbers (gateway/limits.py)
    if not isinstance(body, dict):
        raise invalid("INVALID_JSON", "body", "the body is not a JSON object", None, "a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise invalid("UNKNOWN_FIELD", unknown[0], "not a field of a webhook subscription", None,
                      ", ".join(sorted(_FIELDS)))
    if creating and ("url" not in body or "format" not in body):
        missing = "url" if "url" not in body else "format"
        raise invalid("REQUIRED", missing, f"{missing} is required", None, None)
    url = body.get("url")
    fmt = body.get("format")
    active = body.get("active")
    trust_ods = body.get("trust_ods")
    provider_ods = body.get("provider_ods")
    if url is not None and not isinstance(url, str):
        raise invalid("INVALID_WEBHOOK_URL", "url", "url must be a string", str(url), "an https URL")
    if fmt is not None and not isinstance(fmt, str):
        raise invalid("INVALID_VALUE", "format", "format must be a string", str(fmt), " or ".join(payload.FORMATS))
    if active is not None and not isinstance(active, bool):
        raise invalid("INVALID_VALUE", "active", "active must be true or false", str(active), "true or false")
    if trust_ods is not None and not isinstance(trust_ods, str):
        raise invalid("INVALID_VALUE", "trust_ods", "trust_ods must be a string", str(trust_ods), "an ODS code")
    if provider_ods is not None and not isinstance(provider_ods, str):
        raise invalid("INVALID_VALUE", "provider_ods", "provider_ods must be a string", str(provider_ods),
                      "an ODS code")
    events = body.get("events")
    if events is not None and (not isinstance(events, list) or not all(isinstance(e, str) for e in events)):
        raise invalid("INVALID_VALUE", "events", "events must be a list of event kinds", str(events)[:80],
                      'e.g. ["delivery-delivered", "cancelled"], or null for every event')
    return SubscriptionChange(
        url=url, format=fmt, events=events, clear_events="events" in body and events is None,
        active=active, trust_ods=trust_ods, provider_ods=provider_ods,
    )


def check_url(url: str, *, mode: str) -> str:
    """The URL if a webhook may be sent there in this `mode` (production, demo, test), else INVALID_WEBHOOK_URL."""
    url = url.strip()
    expected = "an https URL"
    if mode != "production":
        expected += " (or http to a loopback address in demo and test mode)"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError as exc:
        raise invalid("INVALID_WEBHOOK_URL", "url", "not a URL", url[:200], expected) from exc
    if len(url) > MAX_URL:
        raise invalid("INVALID_WEBHOOK_URL", "url", f"longer than {MAX_URL} characters", url[:200], expected)
    if not host:
        raise invalid("INVALID_WEBHOOK_URL", "url", "the URL has no host", url[:200], expected)
    if parts.username is not None or parts.password is not None:
        raise invalid("INVALID_WEBHOOK_URL", "url", "credentials may not be put in the URL", None, expected)
    if parts.fragment:
        raise invalid("INVALID_WEBHOOK_URL", "url", "a URL fragment is never sent", url[:200], expected)
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and mode in ("demo", "test") and _loopback(host):
        return url
    why = "http is allowed only to a loopback address in demo and test mode" if parts.scheme == "http" else (
        "the scheme must be https"
    )
    raise invalid("INVALID_WEBHOOK_URL", "url", why, url[:200], expected)


def check_format(fmt: str, tenant_kind: str = TRUST) -> str:
    """The format if a `tenant_kind` (trust or provider) subscription may take it: a provider's events are JSON."""
    formats = invoice_events.PROVIDER_FORMATS if tenant_kind == PROVIDER else payload.FORMATS
    if fmt not in formats:
        why = "unknown webhook format" if fmt not in payload.FORMATS else "a provider's webhook events are sent as json"
        raise invalid("INVALID_VALUE", "format", why, fmt[:20], " or ".join(formats))
    return fmt


def check_events(events: list[str] | None, tenant_kind: str = TRUST) -> list[str] | None:
    """The event kinds, deduplicated in order; None or [] means every event (of a provider's: every invoice event)."""
    if not events:
        return None
    for n, kind in enumerate(events):
        if _KIND.fullmatch(kind) is None:
            raise invalid("INVALID_VALUE", f"events[{n}]", "not an event kind", kind[:40],
                          "a lower-case event kind as in the status feed, e.g. delivery-delivered")
        if tenant_kind == PROVIDER and kind not in invoice_events.PROVIDER_EVENT_KINDS:
            raise invalid("INVALID_VALUE", f"events[{n}]", "not an event a provider is sent", kind[:40],
                          " or ".join(invoice_events.PROVIDER_EVENT_KINDS))
        if tenant_kind == TRUST and kind in invoice_events.PROVIDER_EVENT_KINDS:
            raise invalid("INVALID_VALUE", f"events[{n}]", "an event sent to providers, not to trusts", kind[:40],
                          "a lifecycle event kind as in the status feed, e.g. delivery-delivered")
    return list(dict.fromkeys(events))


def check_policy(sub: WebhookSubscription) -> None:
    try:
        stored_policy(sub, WebhookConfig().default_policy)
    except ValueError as exc:
        raise invalid("INVALID_VALUE", "retry", f"the retry policy would be unusable: {exc}", None,
                      "max attempts >= 1, max age > 0, 0 < base <= cap") from exc


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tenant_of(actor: audit.Actor, change: SubscriptionChange) -> tuple[str, str]:
    """Whose subscription this is, as (trust or provider, ODS code): a trust's or a provider's own (it may name
    only itself), or the trust or provider an operator names."""
    named = {TRUST: change.trust_ods, PROVIDER: change.provider_ods}
    if isinstance(actor, Principal) and actor.role in (Role.TRUST, Role.PROVIDER):
        kind = TRUST if actor.role is Role.TRUST else PROVIDER
        for other, ods in named.items():
            if ods is not None and (other != kind or ods.strip().upper() != actor.ods):
                raise ForbiddenError(f"{other}_ods names {ods[:12]}, but this client acts for {kind} {actor.ods}")
        return kind, actor.ods
    given = [(kind, ods) for kind, ods in named.items() if ods]
    if len(given) != 1:
        why = "an operator must name the trust or the provider the webhook is for" if not given else (
            "name either trust_ods or provider_ods, not both"
        )
        raise invalid("REQUIRED", "trust_ods", why, None, "an ODS code in trust_ods or provider_ods")
    kind, raw = given[0]
    ods = raw.strip().upper()
    if _ODS.fullmatch(ods) is None:
        raise invalid("INVALID_VALUE", f"{kind}_ods", "not an ODS code", raw[:20], "3 to 12 letters and digits")
    return kind, ods


def invalid(code: str, where: str, message: str, value: str | None, expected: str | None) -> InputError:
    issue = Issue(code=code, message=message, location=Location(path=where), value=value, expected=expected)
    return InputError([issue])
