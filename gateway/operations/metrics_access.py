"""Who may read the metrics, and the exposition they read.

A Prometheus scraper presents the static `HGW_METRICS_TOKEN` (Prometheus cannot do private_key_jwt); an
operator's access token works too. Anyone else gets 401/403: the metrics name providers and volumes, which are
operational information, though never patient data.
"""

from __future__ import annotations

import hmac
import logging

from gateway.context import Gateway
from gateway.domain.principal import Role, require_role
from gateway.errors import StoreError
from gateway.logs import log
from gateway.observability.collector import StoreReadings, read_store, render
from gateway.security.clients import authenticate_client

logger = logging.getLogger("gateway.observability")

OPERATIONS = ("operations",)


async def authorise_scrape(gw: Gateway, bearer: str | None) -> None:
    """Return when `bearer` is the scrape token or an operator's token; AuthenticationError/ForbiddenError else."""
    expected = gw.settings.metrics_token
    if expected and bearer and hmac.compare_digest(bearer.encode(), expected.encode()):
        return
    principal = await authenticate_client(gw, bearer)
    require_role(principal, Role.OPERATOR, scopes=OPERATIONS)


async def scrape(gw: Gateway, bearer: str | None) -> bytes:
    """The Prometheus text exposition for an authorised caller."""
    await authorise_scrape(gw, bearer)
    try:
        readings: StoreReadings | None = await read_store(gw.sessions, gw.clock())
    except StoreError as exc:
        log(logger, logging.WARNING, "metrics scraped without the database", error=str(exc))
        readings = None
    return render(gw.telemetry, readings)
