"""The organisation directory and trusts' homecare team contacts: what EPS needs on an order and exports lack.

From `hgw organisations import|add|contact` and the operator API (`/api/v1/admin/organisations`,
`/api/v1/admin/team-contacts`). Every change is validated first (problems located: the CLI flag in `column`, the
JSON field in `path`, the file line in `line`) and audited as `configuration.change`. docs/trust-integration.md.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Final

from gateway import audit
from gateway.context import Gateway
from gateway.domain.directory import SDS_JOB_ROLES, Directory, job_role_code
from gateway.domain.identifiers import is_valid_ods_code, normalise_postcode
from gateway.errors import InputError, Issue
from gateway.operations.admin import _audit_change, _authorise, _issue
from gateway.operations.ods_file import parse_ods_file
from gateway.store import directory as store
from gateway.store.directory import OrganisationEntry, TeamContactEntry

# A UK telephone number as written: digits, spaces, +, brackets and dashes; 10 to 13 digits.
_PHONE: Final = re.compile(r"^\+?[0-9 ()\-]{10,20}$")


def _check_phone(telecom: str, column: str = "--telecom") -> list[Issue]:
    digits = sum(c.isdigit() for c in telecom)
    if _PHONE.fullmatch(telecom.strip()) and 10 <= digits <= 13:
        return []
    return [_issue("INVALID_VALUE", "not a telephone number", column, "telecom", telecom, "e.g. 01823 333444")]


def _check_ods(ods: str, column: str, path: str) -> list[Issue]:
    if is_valid_ods_code(ods):
        return []
    return [_issue("INVALID_ODS_CODE", "not an ODS code", column, path, ods, "3, 5 or 6 letters and digits")]


async def load_directory(gw: Gateway) -> Directory:
    """A snapshot of the directory and contacts for one export."""
    async with gw.sessions() as session:
        return await store.load_directory(session)


async def import_ods_file(gw: Gateway, payload: bytes, actor: audit.Actor = audit.SYSTEM) -> dict[str, Any]:
    """Load an NHS ODS `etr.csv` file; good lines are stored, each bad line reported with its line number."""
    _authorise(actor)
    parsed = await asyncio.to_thread(parse_ods_file, payload, gw.clock())  # up to 100,000 lines: off the loop
    if not parsed.rows and parsed.issues:
        raise InputError(parsed.issues)
    async with gw.sessions() as session, session.begin():
        count = await store.upsert_organisations(session, parsed.rows)
        await _audit_change(session, gw, actor, "organisation", "etr.csv", {"change": "imported", "count": count})
    return {"imported": count, "issues": [i.as_dict() for i in parsed.issues]}


def _address(address: str) -> tuple[list[str], str | None]:
    """`"Musgrove Park Hospital, Taunton, TA1 5DA"` → lines and the postcode (its last part)."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    postcode = normalise_postcode(parts[-1]) if parts else None
    return (parts[:-1], postcode) if postcode else (parts, None)


async def add_organisation(
    gw: Gateway,
    *,
    ods: str,
    name: str,
    address: str,
    telecom: str,
    parent_ods: str | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> OrganisationEntry:
    """Add or replace one organisation (a trust or one of its sites) with what EPS needs of it."""
    _authorise(actor)
    ods = ods.strip().upper()
    parent = parent_ods.strip().upper() if parent_ods else None
    lines, postcode = _address(address)
    issues = _check_ods(ods, "--ods", "ods") + _check_phone(telecom)
    if parent is not None:
        issues += _check_ods(parent, "--parent", "parent_ods")
    if not (0 < len(name.strip()) <= 200) or not name.isprintable():
        issues.append(_issue("INVALID_VALUE", "an organisation needs a name", "--name", "name", name, "1-200 chars"))
    if not lines or postcode is None or not address.isprintable() or len(address) > 500:
        issues.append(
            _issue(
                "INVALID_VALUE",
                "an address is its lines and then its postcode, separated by commas",
                "--address",
                "address",
                address,
                "e.g. 'Musgrove Park Hospital, Taunton, TA1 5DA'",
            )
        )
    if issues or postcode is None:
        raise InputError(issues)
    row: dict[str, Any] = {
        "ods": ods,
        "name": name.strip(),
        "address_lines": json.dumps(lines),
        "postcode": postcode,
        "telecom": telecom.strip(),
        "parent_ods": parent,
        "source": "cli",
        "updated_at": gw.clock(),
    }
    async with gw.sessions() as session, session.begin():
        await store.upsert_organisations(session, [row])
        await _audit_change(session, gw, actor, "organisation", ods, {"change": "organisation-set"})
    return OrganisationEntry(**row)


async def set_team_contact(
    gw: Gateway, *, trust_ods: str, telecom: str, job_role: str, actor: audit.Actor = audit.SYSTEM
) -> TeamContactEntry:
    """A trust's homecare team telephone and SDS job role, for the responsible practitioner on its orders."""
    _authorise(actor)
    trust_ods = trust_ods.strip().upper()
    role = job_role_code(job_role)
    issues = _check_ods(trust_ods, "--ods", "trust_ods") + _check_phone(telecom)
    if role not in SDS_JOB_ROLES:
        issues.append(
            _issue(
                "INVALID_VALUE",
                "not an SDS job role a prescribing team uses",
                "--job-role",
                "job_role",
                job_role,
                ", ".join(f"{code} ({name})" for code, name in SDS_JOB_ROLES.items()),
            )
        )
    if issues:
        raise InputError(issues)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        await store.set_contact(session, trust_ods, telecom.strip(), role, now)
        await _audit_change(session, gw, actor, "team-contact", trust_ods, {"change": "team-contact-set"})
    return TeamContactEntry(trust_ods=trust_ods, telecom=telecom.strip(), job_role=role, updated_at=now)


async def organisations(gw: Gateway, actor: audit.Actor = audit.SYSTEM) -> list[OrganisationEntry]:
    _authorise(actor)
    async with gw.sessions() as session:
        return await store.list_organisations(session)


async def team_contacts(gw: Gateway, actor: audit.Actor = audit.SYSTEM) -> list[TeamContactEntry]:
    _authorise(actor)
    async with gw.sessions() as session:
        return await store.list_contacts(session)


def organisation_json(o: OrganisationEntry) -> dict[str, Any]:
    return {
        "ods": o.ods,
        "name": o.name,
        "address": json.loads(o.address_lines),
        "postcode": o.postcode,
        "telecom": o.telecom,
        "parent_ods": o.parent_ods,
        "source": o.source,
    }


def contact_json(c: TeamContactEntry) -> dict[str, Any]:
    return {"trust_ods": c.trust_ods, "telecom": c.telecom, "job_role": c.job_role}
