"""Small FHIR datatype helpers shared by the message builders: references, ODS identifiers, dateTimes."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from gateway.fhir import urls

# Trust systems write local times; a naive timestamp is read as UK local time.
UK_TIME = ZoneInfo("Europe/London")


def urn(resource_id: str) -> str:
    return "urn:uuid:" + resource_id


def ods_identifier(code: str) -> dict[str, str]:
    return {"system": urls.ODS_ORGANIZATION_CODE, "value": code}


def fhir_datetime(value: datetime) -> str:
    """FHIR dateTime to the second; UTC written `Z`, naive values read as UK local time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UK_TIME)
    text = value.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def uk_date(instant: datetime) -> date:
    """The date in England of an instant."""
    return instant.astimezone(UK_TIME).date()
