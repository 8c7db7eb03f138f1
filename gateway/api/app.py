"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from gateway import __version__
from gateway.api.auth import current_principal
from gateway.api.errors import install_error_handlers
from gateway.api.middleware import install_middleware
from gateway.api.routes import exports, fhir, fhir_conformance, health, jwks, oauth, prescriptions
from gateway.console import routes as console
from gateway.services.context import Gateway


def create_app(gw: Gateway, *, dispose_on_shutdown: bool = False) -> FastAPI:
    """An app serving `gw`. The caller owns `gw` unless `dispose_on_shutdown`."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if dispose_on_shutdown:
            await gw.close()

    app = FastAPI(title="Homecare Gateway", version=__version__, lifespan=lifespan)
    app.state.gateway = gw
    install_error_handlers(app)
    install_middleware(app)
    for module in (oauth, jwks, exports, prescriptions, fhir, health, console):
        app.include_router(module.router)
    # $validate and the CapabilityStatement: anyone authenticated.
    app.include_router(fhir_conformance.router, dependencies=[Depends(current_principal)])
    return app
