"""What a trust administers once and its exports do not carry: organisations (ODS) and the homecare team contact.

EPS needs, for every prescription, the prescribing organisation's name, address and telephone (and its parent's
name when it is a site of a trust), and a telephone and SDS job role for the responsible practitioner. Trust
exports carry the ODS codes only; `hgw organisations import|add|contact` store the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict

from gateway.domain.model import Address
from gateway.errors import Issue, Location

# SDS job roles EPS prescriptions carry (https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode), as in the
# EPS examples: the role code and its SDS display.
SDS_JOB_ROLES: Final[dict[str, str]] = {
    "R8000": "Clinical Practitioner Access Role",
    "R8001": "Nurse Access Role",
    "R8003": "Health Professional Access Role",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Organisation(_Frozen):
    """One organisation of the directory, as EPS needs it on a prescription."""

    ods: str
    name: str
    address: Address
    telecom: str | None = None  # NHS ODS files do not always carry one; EPS needs it
    parent_ods: str | None = None


class TeamContact(_Frozen):
    """A trust's homecare team: the responsible practitioner's telephone and SDS job role when the export has none."""

    telecom: str
    job_role: str  # an SDS_JOB_ROLES code


class Prescribing(_Frozen):
    """Everything about who prescribes that the mapping takes from configuration rather than from the export."""

    organisation: Organisation  # the prescribing site, else the trust
    parent: Organisation | None = None  # the trust, when `organisation` is one of its sites
    contact: TeamContact


def job_role_code(role: str) -> str:
    """The role code of an SDS job role written as `R8000` or `S8000:G8000:R8000`."""
    return role.rsplit(":", 1)[-1].strip().upper()


@dataclass(frozen=True, slots=True)
class Directory:
    """A snapshot of the organisation directory and the trusts' homecare team contacts, loaded once per export."""

    organisations: dict[str, Organisation]
    contacts: dict[str, TeamContact]

    def prescribing(self, trust_ods: str, site_code: str | None) -> Prescribing | list[Issue]:
        """What the mapping needs for a prescription of `trust_ods` (prescribed at `site_code`), or located errors
        saying what the trust must configure."""
        issues: list[Issue] = []
        trust = self.organisations.get(trust_ods)
        site = self.organisations.get(site_code) if site_code else trust
        if trust is None:
            issues.append(_not_configured("TrustODS", trust_ods, f"hgw organisations add --ods {trust_ods} ..."))
        if site_code and site is None:
            issues.append(_not_configured("SiteCode", site_code, f"hgw organisations add --ods {site_code} ..."))
        if site is not None and not site.telecom:
            column = "SiteCode" if site_code else "TrustODS"
            issues.append(
                Issue(
                    code=NOT_CONFIGURED,
                    message=f"organisation {site.ods} has no telephone in the organisation directory: EPS needs one; "
                    f"add it with `hgw organisations add --ods {site.ods} --name ... --address ... --telecom NUMBER`",
                    location=Location(column=column, path="site_code" if site_code else "trust_ods"),
                    value=site.ods,
                    expected="an organisation with a telephone",
                )
            )
        contact = self.contacts.get(trust_ods)
        if contact is None:
            issues.append(
                Issue(
                    code=NOT_CONFIGURED,
                    message=f"no homecare team contact for trust {trust_ods}: EPS needs a telephone and SDS job role "
                    "for the responsible practitioner, and the export carries none; configure it with "
                    f"`hgw organisations contact --ods {trust_ods} --telecom NUMBER --job-role R8000`",
                    location=Location(column="TrustODS", path="trust_ods"),
                    value=trust_ods,
                    expected="a configured homecare team contact",
                )
            )
        if issues or site is None or contact is None or not site.telecom:
            return issues
        parent = trust if site_code and site_code != trust_ods else None
        return Prescribing(organisation=site, parent=parent, contact=contact)


NOT_CONFIGURED: Final = "EPS_NOT_CONFIGURED"


def _not_configured(column: str, ods: str, command: str) -> Issue:
    return Issue(
        code=NOT_CONFIGURED,
        message=f"organisation {ods} is not in the organisation directory: EPS needs its name, address and "
        f"telephone, and the export carries none; import the ODS file (`hgw organisations import etr.csv`) or "
        f"`{command}`",
        location=Location(column=column, path="site_code" if column == "SiteCode" else "trust_ods"),
        value=ods,
        expected="an organisation in the directory",
    )
