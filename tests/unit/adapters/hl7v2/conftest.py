"""Fixtures for the HL7 v2 adapter tests: an adapter on a frozen clock and the profile's example order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.writer import MessageSpec

# The example is signed on 21/11/2026; "today" for the DOB check is the day after (`frozen_now` of the JAC tests).
FROZEN_NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def example_order() -> MessageSpec:
    """A methotrexate item and an ancillary item (real dm+d codes from shared/reference/dmd-subset.csv)."""
    prescriber = [("4123456", "JONES", "Alan", "", "", "", "", "", "GMC")]
    facility = [("Royal Hampshire County Hospital", "", "", "", "", "", "", "", "", "RHM")]
    return MessageSpec([
        ("MSH", {3: "EPMA", 4: "RHM", 5: "HGW", 6: "HGW", 7: "20261121140512", 9: ("RDE", "O11", "RDE_O11"),
                 10: "MSG00001", 11: "P", 12: "2.5", 18: "UNICODE UTF-8"}),
        ("EVN", {1: "O11", 2: "20261121140512"}),
        ("PID", {3: [("9434765919", "", "", "NHS", "NH"), ("K1234567", "", "", "RHM", "MR")],
                 5: [("SMITH", "Jane", "Anne", "", "Mrs")], 7: "19680214", 8: "F",
                 11: [("12 Tremona Road", "Southampton", "", "", "SO16 6YD", "GBR", "H")],
                 13: [("023 8079 0000", "PRN", "PH"), ("07700 900123", "PRN", "CP")]}),
        ("PV1", {2: "O"}),
        ("ORC", {1: "NW", 2: ("HC-26-004711-1", "RHM"), 9: "202611211405", 12: list(prescriber),
                 21: list(facility)}),
        ("RXE", {2: ("15517911000001104", "Methotrexate 10mg/0.2ml solution for injection pre-filled syringes",
                     "DMD"), 3: "10", 5: ("mg", "milligram", "ISO+"), 7: [("OW", "once a week")], 10: "4",
                 11: ("pre-filled syringe",), 12: "5", 21: [("", "Store below 25C")]}),
        ("RXR", {1: ("SC", "Subcutaneous", "HL70162")}),
        ("ORC", {1: "NW", 2: ("HC-26-004711-2", "RHM"), 9: "202611211405", 12: list(prescriber),
                 21: list(facility)}),
        ("RXE", {2: ("110171000001104", "Water for injections 2ml ampoules", "DMD"), 10: "1", 11: "ampoule",
                 12: "0"}),
        ("RXR", {}),
        ("ZHC", {2: "DELIVERY", 3: "28", 4: "20261201", 5: ("69896004", "Rheumatoid arthritis", "SCT"),
                 6: ["N", "Y"]}),
    ])


@pytest.fixture(scope="session")
def hl7() -> Hl7v2Adapter:
    return Hl7v2Adapter(clock=lambda: FROZEN_NOW)


@pytest.fixture
def order() -> MessageSpec:
    """The example order (a fresh copy per test)."""
    return example_order()
