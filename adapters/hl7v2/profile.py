"""The homecare order profile (shared/specs/hl7v2-homecare-order.md v1.0): segments, versions and field formats."""

from __future__ import annotations

import re
from enum import StrEnum

from gateway.domain.model import Action, Sex

MESSAGE_TYPE = ("RDE", "O11")
MESSAGE_STRUCTURES = ("RDE_O11", "")
VERSIONS = ("2.4", "2.5", "2.5.1")
GRAMMAR = "MSH [EVN] PID [PV1] {ORC RXE [TQ1] RXR {NTE}} ZHC"

# Each profile segment's place in GRAMMAR; ORC..NTE form the repeating item group.
POSITION: dict[str, int] = {"MSH": 0, "EVN": 1, "PID": 2, "PV1": 3, "ORC": 4, "RXE": 5, "TQ1": 6, "RXR": 7,
                            "NTE": 8, "ZHC": 9}
MANDATORY = frozenset({"MSH", "PID", "ORC", "RXE", "RXR", "ZHC"})
GROUP_START, GROUP_END = POSITION["ORC"], POSITION["NTE"]
BY_POSITION = {position: segment for segment, position in POSITION.items()}


class OrderControl(StrEnum):
    NW = "NW"
    XO = "XO"
    CA = "CA"


ACTIONS = {OrderControl.NW: Action.NEW, OrderControl.XO: Action.AMEND, OrderControl.CA: Action.CANCEL}


class Hl7Sex(StrEnum):
    M = "M"
    F = "F"
    U = "U"
    O = "O"  # noqa: E741 - HL7 table 0001 spells "other" O


SEXES = {Hl7Sex.M: Sex.MALE, Hl7Sex.F: Sex.FEMALE, Hl7Sex.U: Sex.UNKNOWN, Hl7Sex.O: Sex.INDETERMINATE}

NHS_NUMBER_TYPE, MRN_TYPE = "NH", "MR"
DELIVERY_ADDRESS_TYPES = ("C", "BDL")
HOME_PHONE, MOBILE, EMAIL = "PH", "CP", "Internet"
DMD_SYSTEM, SNOMED_SYSTEM, COUNTRY = "DMD", "SCT", "GBR"

_DTM = "YYYYMMDDHHMM[SS][+/-ZZZZ]"
EXPECTED: dict[str, str] = {
    "MSH-4.1": "the trust's ODS code, 3 or 5 characters (e.g. RHM)",
    "MSH-7": f"date and time {_DTM}",
    "MSH-9": "RDE^O11^RDE_O11",
    "MSH-10": "the message control id",
    "MSH-12.1": "2.4 or 2.5",
    "PID-3": "a repetition typed NH holding the NHS number (9434765919^^^NHS^NH)",
    "PID-3.1": "10 digits with a valid Modulus 11 check digit",
    "PID-5.1": "the family name",
    "PID-5.2": "the given name",
    "PID-7": "date of birth YYYYMMDD, not in the future",
    "PID-8": "M, F, U or O",
    "PID-11": "the home address LINE1^LINE2^CITY^^POSTCODE^GBR^H",
    "PID-11.1": "the first address line",
    "PID-11.5": "UK postcode (e.g. SO16 6YD)",
    "PID-11.6": "GBR",
    "PID-13": "a home (^PRN^PH) or mobile (^PRN^CP) phone number",
    "PID-13.4": "email address",
    "ORC-1": "NW, XO or CA",
    "ORC-2.1": "RxNumber-LineNo: 1-20 of A-Z, 0-9 and -, then - and the item line number (e.g. HC-26-004711-1)",
    "ORC-2.2": "the trust's ODS code, as in MSH-4",
    "ORC-9": f"date and time signed {_DTM}, UK local time unless an offset is given",
    "ORC-12.1": "the prescriber's professional registration number",
    "ORC-12.2": "the prescriber's family name",
    "ORC-12.9": "GMC, NMC, GPHC or HCPC",
    "ORC-16": "the cancellation reason (mandatory when ORC-1 is CA)",
    "ORC-21.10": "the trust's ODS code, as in MSH-4",
    "ORC-21.3": "the trust's ODS code, as in MSH-4 (v2.4 XON-3)",
    "RXE-2.1": "dm+d VMP or AMP code: 6-18 digits with a Verhoeff check digit",
    "RXE-2.2": "the drug description",
    "RXE-2.3": DMD_SYSTEM,
    "RXE-3": "decimal with . as separator (e.g. 0.4)",
    "RXE-5": "the dose unit (e.g. mg)",
    "RXE-7": "the frequency (e.g. EVERY 14 DAYS)",
    "RXE-10": "decimal > 0 with . as separator",
    "RXE-11": "the dispense unit (e.g. pre-filled pen)",
    "RXE-12": "integer 0-51: the number of deliveries - 1",
    "TQ1-7": "start date YYYYMMDD[HHMM]",
    "TQ1-8": "end date YYYYMMDD[HHMM], not before TQ1-7",
    "ZHC-1": "ODS code of the homecare provider (e.g. VNFKT)",
    "ZHC-2": "DELIVERY, DELIVERY_NURSING or DELIVERY_TRAINING",
    "ZHC-3": "integer 1-365: days per delivery",
    "ZHC-4": "date YYYYMMDD",
    "ZHC-5.1": "SNOMED CT concept id: 6-18 digits with a Verhoeff check digit",
    "ZHC-5.2": "the clinical indication",
    "ZHC-5.3": SNOMED_SYSTEM,
    "ZHC-6": "Y or N, one per item in item order",
    "ZHC-7": "the prescription version: integer >= 1 (>= 2 for XO); blank means 1, for NW only",
}
_REPETITION_RE = re.compile(r"\[[0-9]+\]")


def expected(path: str) -> str:
    """What the profile expects at a location path; repetition indexes do not matter."""
    return EXPECTED.get(_REPETITION_RE.sub("", path), "a value as the profile specifies")
