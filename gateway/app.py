"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from adapters.hl7v2.mllp import serve_mllp
from gateway import __version__
from gateway.alerts.loop import start_alert_evaluator
from gateway.api.auth import current_principal
from gateway.api.errors import install_error_handlers
from gateway.api.middleware import install_middleware
from gateway.api.routes import (
    admin,
    adverse_events,
    at_risk,
    clients,
    directory,
    exports,
    fhir,
    fhir_conformance,
    health,
    invoices,
    jwks,
    kpis,
    oauth,
    ops,
    prescriptions,
    spend,
    status_feed,
    tasks,
    webhooks,
)
from gateway.api.routes.metrics import install_observability
from gateway.audit.loop import start_audit_sequencer
from gateway.console import invoice_page, kpi_page, not_found, prescriptions_page, risk_page
from gateway.console import routes as console
from gateway.context import Gateway
from gateway.delivery.worker import start_push_workers
from gateway.errors import ConfigurationError
from gateway.intake import isolated
from gateway.intake.hl7_answers import mllp_handler
from gateway.operations.health import MLLP as MLLP_LISTENER
from gateway.security.purge import start_token_purge
from gateway.validator import Validator
from gateway.webhooks.worker import start_webhook_workers


async def start_mllp(gw: Gateway) -> asyncio.Server | None:
    """The HL7 v2 MLLP listener, when HGW_MLLP_PORT is set (it needs HGW_MLLP_TRUST_ODS: MLLP has no login)."""
    settings = gw.settings
    if settings.mllp_port is None:
        return None
    if not settings.mllp_trust_ods:
        raise ConfigurationError("HGW_MLLP_PORT is set but HGW_MLLP_TRUST_ODS is not: whose messages would they be?")
    return await serve_mllp(
        settings.mllp_host,
        settings.mllp_port,
        mllp_handler(gw, settings.mllp_trust_ods),
        max_frame_bytes=settings.max_body_bytes,
    )


def settle_heap() -> None:
    """Called by `hgw serve` once before serving: build what every request shares (the validator's compiled
    profiles), then move everything alive at startup out of the garbage collector's reach (`gc.freeze`). A full
    collection stops every thread, the event loop's too; it then traverses only what requests create, not the
    ~160,000 objects of the loaded libraries and profiles (about 185 ms a collection on the development machine).
    What a heavy request itself creates is still traversed: docs/limits.md, "Measured"."""
    Validator.from_package()
    isolated.warm()  # heavy exports are handled in forks of a fork server: start it before the first one
    gc.collect()
    gc.freeze()


def create_app(gw: Gateway, *, dispose_on_shutdown: bool = False) -> FastAPI:
    """An app serving `gw`. The caller owns `gw` unless `dispose_on_shutdown`."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        mllp = await start_mllp(gw)
        push = start_push_workers(gw)
        hooks = start_webhook_workers(gw)
        gw.telemetry.watch_listener(MLLP_LISTENER, mllp)  # readiness (docs/observability.md)
        alerts = start_alert_evaluator(gw)
        purge = start_token_purge(gw)  # used assertion ids and expired tokens (docs/security.md)
        sequencer = start_audit_sequencer(gw)  # chains the audit entries (docs/audit.md)
        try:
            yield
        finally:
            if push is not None:
                await push.stop()
            if hooks is not None:
                await hooks.stop()
            if alerts is not None:
                await alerts.stop()
            if purge is not None:
                await purge.stop()
            if sequencer is not None:
                await sequencer.stop()
            if mllp is not None:
                mllp.close()
                await mllp.wait_closed()
            if dispose_on_shutdown:
                await gw.close()

    app = FastAPI(title="Homecare Gateway", version=__version__, lifespan=lifespan)
    app.state.gateway = gw
    install_error_handlers(app)
    install_middleware(app)
    install_observability(app, gw)  # GET /metrics and request timing (docs/observability.md)
    for module in (oauth, jwks, exports, prescriptions, status_feed, fhir, tasks, health, console, webhooks):
        app.include_router(module.router)
    app.include_router(kpis.router)  # the national homecare KPIs (docs/kpis.md)
    app.include_router(at_risk.router)  # patients at risk of a missed dose (docs/patient-safety.md)
    app.include_router(adverse_events.router)  # and missed doses, as FHIR AdverseEvents
    app.include_router(adverse_events.kpi_router)  # counted per 1,000 patient-months (docs/kpis.md)
    app.include_router(kpi_page.router)  # and their console page, /console/kpis
    app.include_router(risk_page.router)  # the console's "At risk" page, /console/at-risk
    app.include_router(prescriptions_page.router)  # every organisation's prescriptions and timelines (One portal)
    app.include_router(invoice_page.router)  # invoices and spend, /console/invoices (docs/invoicing.md)
    app.include_router(admin.router)  # operator API: providers, routing rules, held prescriptions (docs/delivery.md)
    app.include_router(directory.router)  # operator API: organisation directory, team contacts (issue 15)
    app.include_router(ops.router)  # operator API: overview, messages, replay, pause (docs/console.md)
    app.include_router(invoices.router)  # claims, invoices, decisions and prices (docs/invoicing.md)
    app.include_router(spend.router)  # spend per trust, provider, medicine and month (docs/invoicing.md)
    app.include_router(clients.router)  # operator API: client lifecycle and token revocation (docs/security.md)
    # $validate and the CapabilityStatement: anyone authenticated.
    app.include_router(fhir_conformance.router, dependencies=[Depends(current_principal)])
    app.include_router(not_found.router)  # last: any other /console/ address is an HTML 404
    return app
