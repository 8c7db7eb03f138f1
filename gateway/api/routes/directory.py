"""The operator API for what EPS needs that trust exports do not carry: the organisation directory and each
trust's homecare team contact (docs/trust-integration.md). Operators only (the services check the role); every
change audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.json_body import StrictBody, body_doc, parse_body
from gateway.context import Gateway
from gateway.operations import organisations as directory

router = APIRouter(prefix="/api/v1/admin", tags=["operator"])
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
Body = Annotated[bytes, Depends(read_body)]
Ods = Annotated[str, Path(max_length=12, description="the trust's ODS code")]


class NewOrganisation(StrictBody):
    ods: str = Field(max_length=12)
    name: str = Field(max_length=200)
    address: str = Field(max_length=500, description="its lines and then its postcode, comma-separated")
    telecom: str = Field(max_length=40)
    parent_ods: str | None = Field(default=None, max_length=12, description="the trust a site belongs to")


class TeamContact(StrictBody):
    telecom: str = Field(max_length=40)
    job_role: str = Field(max_length=40, description="SDS job role code, e.g. R8000")


@router.get("/organisations", summary="The organisation directory")
async def list_organisations(gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"organisations": [directory.organisation_json(o) for o in await directory.organisations(gw, principal)]}


@router.post("/organisations", summary="Add or replace an organisation", openapi_extra=body_doc(NewOrganisation))
async def add_organisation(body: Body, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    new = parse_body(body, NewOrganisation)
    org = await directory.add_organisation(
        gw,
        ods=new.ods,
        name=new.name,
        address=new.address,
        telecom=new.telecom,
        parent_ods=new.parent_ods,
        actor=principal,
    )
    return directory.organisation_json(org)


@router.post(
    "/organisations/import",
    summary="Load an NHS ODS file in the etr.csv layout (text/csv); each bad line reported",
)
async def import_organisations(body: Body, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return await directory.import_ods_file(gw, body, actor=principal)


@router.get("/team-contacts", summary="Each trust's homecare team contact")
async def list_team_contacts(gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"team_contacts": [directory.contact_json(c) for c in await directory.team_contacts(gw, principal)]}


@router.put(
    "/team-contacts/{trust_ods}",
    summary="Set a trust's homecare team contact (telephone, SDS job role)",
    openapi_extra=body_doc(TeamContact),
)
async def set_team_contact(trust_ods: Ods, body: Body, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    new = parse_body(body, TeamContact)
    contact = await directory.set_team_contact(
        gw, trust_ods=trust_ods, telecom=new.telecom, job_role=new.job_role, actor=principal
    )
    return directory.contact_json(contact)
