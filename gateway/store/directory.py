"""The organisation directory and trusts' homecare team contacts: tables and the queries the services use."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.directory import Directory, Organisation, TeamContact
from gateway.domain.model import Address
from gateway.store.columns import utc_timestamp


class OrganisationEntry(SQLModel, table=True):
    """One organisation as NHS ODS publishes it (etr.csv) or a trust administrator added it."""

    __tablename__ = "organisation"

    ods: str = Field(primary_key=True, max_length=12)
    name: str = Field(max_length=200)
    address_lines: str = Field(description="JSON list of address lines")
    postcode: str = Field(max_length=12)
    telecom: str | None = Field(default=None, max_length=40)
    parent_ods: str | None = Field(default=None, max_length=12)
    national_grouping: str | None = Field(default=None, max_length=12)
    health_geography: str | None = Field(default=None, max_length=12)
    open_date: date | None = None
    close_date: date | None = None
    source: str = Field(max_length=16, description="etr.csv or cli")
    updated_at: datetime = Field(sa_column=utc_timestamp())

    def as_domain(self) -> Organisation:
        lines = tuple(str(line) for line in json.loads(self.address_lines))
        return Organisation(
            ods=self.ods,
            name=self.name,
            address=Address(lines=lines, postcode=self.postcode),
            telecom=self.telecom,
            parent_ods=self.parent_ods,
        )


class TeamContactEntry(SQLModel, table=True):
    """A trust's homecare team: the responsible practitioner's telephone and SDS job role on every order."""

    __tablename__ = "team_contact"

    trust_ods: str = Field(primary_key=True, max_length=12)
    telecom: str = Field(max_length=40)
    job_role: str = Field(max_length=40)
    updated_at: datetime = Field(sa_column=utc_timestamp())


async def load_directory(session: AsyncSession) -> Directory:
    organisations = (await session.exec(select(OrganisationEntry))).all()
    contacts = (await session.exec(select(TeamContactEntry))).all()
    return Directory(
        organisations={o.ods: o.as_domain() for o in organisations},
        contacts={c.trust_ods: TeamContact(telecom=c.telecom, job_role=c.job_role) for c in contacts},
    )


async def upsert_organisations(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert or replace organisations by ODS code (an import keeps a telephone it does not carry)."""
    count = 0
    for row in rows:
        existing = await session.get(OrganisationEntry, row["ods"])
        if existing is None:
            session.add(OrganisationEntry(**row))
        else:
            for key, value in row.items():
                if key == "telecom" and value is None:
                    continue
                setattr(existing, key, value)
        count += 1
    return count


async def list_organisations(session: AsyncSession) -> list[OrganisationEntry]:
    return list((await session.exec(select(OrganisationEntry).order_by(OrganisationEntry.ods))).all())


async def set_contact(session: AsyncSession, trust_ods: str, telecom: str, job_role: str, now: datetime) -> None:
    await session.exec(delete(TeamContactEntry).where(TeamContactEntry.trust_ods == trust_ods))  # type: ignore[arg-type]
    session.add(TeamContactEntry(trust_ods=trust_ods, telecom=telecom, job_role=job_role, updated_at=now))


async def list_contacts(session: AsyncSession) -> list[TeamContactEntry]:
    return list((await session.exec(select(TeamContactEntry).order_by(TeamContactEntry.trust_ods))).all())
