"""Status and timeline of one prescription."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway
from gateway.context import Gateway
from gateway.lifecycle.prescription_view import prescription_view

router = APIRouter(prefix="/api/v1", tags=["trust"])


@router.get("/prescriptions/{prescription_id}", summary="Status, items, deliveries and timeline")
async def get_prescription(
    prescription_id: str, gw: Annotated[Gateway, Depends(get_gateway)], principal: CurrentPrincipal
) -> dict[str, Any]:
    return await prescription_view(gw, principal, prescription_id)
