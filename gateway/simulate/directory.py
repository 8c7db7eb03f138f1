"""The organisation directory and homecare team contacts of the simulated trusts (demo, benches, tests).

Names and addresses as NHS ODS and the EPS examples give them; telephone numbers other than the one in the EPS
examples are from Ofcom's range reserved for drama (01632 960xxx), so no real line is ever called.
"""

from __future__ import annotations

from typing import Final

from gateway.context import Gateway
from gateway.domain.directory import Directory, Organisation, Prescribing, TeamContact
from gateway.domain.model import Address
from gateway.errors import Issue
from gateway.operations import organisations as directory_service


def _org(
    ods: str, name: str, lines: tuple[str, ...], postcode: str, phone: str, parent: str | None = None
) -> Organisation:
    return Organisation(
        ods=ods, name=name, address=Address(lines=lines, postcode=postcode), telecom=phone, parent_ods=parent
    )


SAMPLE_ORGANISATIONS: Final[tuple[Organisation, ...]] = (
    _org(
        "RBA",
        "TAUNTON AND SOMERSET NHS FOUNDATION TRUST",
        ("MUSGROVE PARK HOSPITAL", "TAUNTON"),
        "TA1 5DA",
        "01823 333444",
    ),
    _org(
        "A99968",
        "SOMERSET BOWEL CANCER SCREENING CENTRE",
        ("MUSGROVE PARK HOSPITAL", "TAUNTON"),
        "TA1 5DA",
        "01823 333444",
        parent="RBA",
    ),
    _org("RBA01", "MUSGROVE PARK HOSPITAL", ("PARKFIELD DRIVE", "TAUNTON"), "TA1 5DA", "01823 333444", parent="RBA"),
    _org(
        "RHM",
        "UNIVERSITY HOSPITAL SOUTHAMPTON NHS FOUNDATION TRUST",
        ("TREMONA ROAD", "SOUTHAMPTON"),
        "SO16 6YD",
        "01632 960001",
    ),
    _org(
        "RTH",
        "OXFORD UNIVERSITY HOSPITALS NHS FOUNDATION TRUST",
        ("JOHN RADCLIFFE HOSPITAL", "HEADLEY WAY", "OXFORD"),
        "OX3 9DU",
        "01632 960002",
    ),
    _org(
        "RRE",
        "MIDLANDS PARTNERSHIP UNIVERSITY NHS FOUNDATION TRUST",
        ("ST GEORGES HOSPITAL", "CORPORATION STREET", "STAFFORD"),
        "ST16 3SR",
        "01632 960003",
    ),
    _org(
        "RRERP",
        "MIDLANDS PARTNERSHIP PHARMACY",
        ("ST GEORGES HOSPITAL", "STAFFORD"),
        "ST16 3SR",
        "01632 960004",
        parent="RRE",
    ),
    _org("A83008", "HALLGARTH SURGERY", ("CHEAPSIDE", "SHILDON"), "DL4 2HP", "01632 960005"),
)
SAMPLE_TRUSTS: Final = ("RBA", "RHM", "RTH", "RRE")
# The homecare team of each simulated trust: its pharmacy homecare line, prescribers as clinical practitioners.
SAMPLE_CONTACT: Final = TeamContact(telecom="01632 960100", job_role="R8000")


def sample_directory() -> Directory:
    return Directory(
        organisations={o.ods: o for o in SAMPLE_ORGANISATIONS},
        contacts={trust: SAMPLE_CONTACT for trust in SAMPLE_TRUSTS},
    )


def sample_prescribing(trust_ods: str = "RBA", site_code: str | None = None) -> Prescribing:
    """What the mapping needs for a simulated trust (and site); ValueError for one the samples do not have."""
    found = sample_directory().prescribing(trust_ods, site_code)
    if isinstance(found, list):
        raise ValueError(f"no sample organisation for {trust_ods}/{site_code}: {found[0].message}")
    return found


async def configure_sample_directory(gw: Gateway) -> None:
    """Store the simulated trusts' organisations and team contacts, as a trust administrator would once."""
    for org in SAMPLE_ORGANISATIONS:
        await directory_service.add_organisation(
            gw,
            ods=org.ods,
            name=org.name,
            address=", ".join((*org.address.lines, org.address.postcode)),
            telecom=org.telecom or "",
            parent_ods=org.parent_ods,
        )
    for trust in SAMPLE_TRUSTS:
        await directory_service.set_team_contact(
            gw, trust_ods=trust, telecom=SAMPLE_CONTACT.telecom, job_role=SAMPLE_CONTACT.job_role
        )


def stand_in_prescribing(trust_ods: str, site_code: str | None = None) -> Prescribing:
    """The sample organisations where they exist, else stand-ins: for mapping a trust's export where no gateway
    store holds its configuration (the trust conformance suite checks what its export alone gives)."""
    known = sample_directory()
    for ods in (trust_ods, site_code):
        if ods and ods not in known.organisations:
            known.organisations[ods] = _org(
                ods, f"ORGANISATION {ods}", ("STAND-IN ADDRESS",), "LS1 4HR", "01632 960999"
            )
    known.contacts.setdefault(trust_ods, SAMPLE_CONTACT)
    found = known.prescribing(trust_ods, site_code)
    assert not isinstance(found, list)  # noqa: S101 - every organisation and the contact were just added
    return found


class StandInDirectory(Directory):
    """A directory that knows every organisation: stand-ins where the samples have none (`stand_in_prescribing`)."""

    def prescribing(self, trust_ods: str, site_code: str | None) -> Prescribing | list[Issue]:
        return stand_in_prescribing(trust_ods, site_code)


def stand_in_directory() -> StandInDirectory:
    return StandInDirectory(organisations={}, contacts={})
