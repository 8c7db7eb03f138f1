"""Code tables the prescription mapping needs: prescription types, routes and dose units (quantity units: dmd_units)."""

from __future__ import annotations

from typing import Final

# NHSBSA prescription types for "Outpatient Homecare" (https://fhir.nhs.uk/CodeSystem/prescription-type, 12xx).
# 1201's display is as printed in the NHS Digital Medicines guide; the others follow the same CodeSystem's wording
# for the matching 10xx (Outpatient Community) codes used in the EPS examples.
HOMECARE_PRESCRIPTION_TYPES: Final[dict[str, str]] = {
    "1201": "Outpatient Homecare Prescriber - Medical Prescriber",
    "1204": "Outpatient Homecare Prescriber - Nurse Independent/Supplementary prescriber",
    "1205": "Outpatient Homecare Prescriber - Community Practitioner Nurse prescriber",
    "1208": "Outpatient Homecare Prescriber - Pharmacist Independent/Supplementary prescriber",
    "1213": "Outpatient Homecare Prescriber - Optometrist Independent/Supplementary prescriber",
    "1214": "Outpatient Homecare Prescriber - Podiatrist/Chiropodist Independent/Supplementary prescriber",
    "1216": "Outpatient Homecare Prescriber - Radiographer Independent/Supplementary prescriber",
    "1217": "Outpatient Homecare Prescriber - Physiotherapist Independent/Supplementary prescriber",
    "1224": "Outpatient Homecare Prescriber - Dietician Supplementary prescriber",
    "1225": "Outpatient Homecare Prescriber - Paramedic Independent/Supplementary prescriber",
}
_BY_REGISTER: Final[dict[str, str]] = {
    "GMC": "1201",
    # Hospital nurse prescribers are independent/supplementary prescribers; 1205 is for community practitioners.
    "NMC": "1204",
    "GPHC": "1208",
}
# HCPC registration numbers start with the profession's prefix; only these professions may prescribe.
_BY_HCPC_PREFIX: Final[dict[str, str]] = {
    "CH": "1214",  # chiropodists / podiatrists
    "DT": "1224",  # dietitians (supplementary prescribing only)
    "PA": "1225",  # paramedics
    "PH": "1217",  # physiotherapists
    "RA": "1216",  # radiographers
}


def homecare_prescription_type(code_type: str, code: str) -> str | None:
    """The 12xx prescription type for a prescriber's register and number; None when that profession cannot prescribe."""
    register = code_type.upper()
    if register == "HCPC":
        return _BY_HCPC_PREFIX.get(code[:2].upper())
    return _BY_REGISTER.get(register)


# Route of administration as the trust writes it → SNOMED CT route concept and its preferred term.
_SUBCUTANEOUS: Final = ("34206005", "Subcutaneous route")
_ORAL: Final = ("26643006", "Oral route")
_INTRAVENOUS: Final = ("47625008", "Intravenous route")
_INTRAMUSCULAR: Final = ("78421000", "Intramuscular route")
ROUTES: Final[dict[str, tuple[str, str]]] = {
    "subcutaneous": _SUBCUTANEOUS,
    "subcutaneous route": _SUBCUTANEOUS,
    "subcut": _SUBCUTANEOUS,
    "sc": _SUBCUTANEOUS,
    "sub-cutaneous": _SUBCUTANEOUS,
    "oral": _ORAL,
    "oral route": _ORAL,
    "by mouth": _ORAL,
    "po": _ORAL,
    "intravenous": _INTRAVENOUS,
    "intravenous route": _INTRAVENOUS,
    "iv": _INTRAVENOUS,
    "intramuscular": _INTRAMUSCULAR,
    "intramuscular route": _INTRAMUSCULAR,
    "im": _INTRAMUSCULAR,
}

# Dose unit as the trust writes it → UCUM code and the unabbreviated unit name printed in dosage text.
UCUM_DOSE_UNITS: Final[dict[str, tuple[str, str]]] = {
    "mg": ("mg", "milligram"),
    "milligram": ("mg", "milligram"),
    "milligrams": ("mg", "milligram"),
    "g": ("g", "gram"),
    "gram": ("g", "gram"),
    "grams": ("g", "gram"),
    "microgram": ("ug", "microgram"),
    "micrograms": ("ug", "microgram"),
    "mcg": ("ug", "microgram"),
    "ug": ("ug", "microgram"),
    "nanogram": ("ng", "nanogram"),
    "nanograms": ("ng", "nanogram"),
    "ng": ("ng", "nanogram"),
    "ml": ("mL", "millilitre"),
    "millilitre": ("mL", "millilitre"),
    "millilitres": ("mL", "millilitre"),
    "milliliter": ("mL", "millilitre"),
    "l": ("L", "litre"),
    "litre": ("L", "litre"),
    "litres": ("L", "litre"),
    "mmol": ("mmol", "millimole"),
    "millimole": ("mmol", "millimole"),
    "millimoles": ("mmol", "millimole"),
}
