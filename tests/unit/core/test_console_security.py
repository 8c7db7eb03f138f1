"""Operator passwords (scrypt), the console role matrix, and masking patient data in raw payloads."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.audit.actor import OperatorActor
from gateway.domain.model import Address, Patient, Sex
from gateway.domain.principal import Principal, Role
from gateway.errors import ForbiddenError
from gateway.security.masking import MASK, mask_text, patient_values, patient_view
from gateway.security.operators import GRANTS, OperatorRole, Permission, can, require_permission
from gateway.security.passwords import hash_password, password_problem, verify_password


def test_passwords_are_salted_scrypt_and_verify_only_the_right_one() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("scrypt$16384$8$1$") and first != second
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse batterY", first)
    assert not verify_password("anything", None)
    assert not verify_password("anything", "md5$abc")
    assert password_problem("short") is not None and password_problem("a long enough one") is None


def test_the_role_matrix() -> None:
    def actor(role: OperatorRole) -> OperatorActor:
        return OperatorActor("x", role.value)

    allowed = {role: {p for p in Permission if can(actor(role), p)} for role in OperatorRole}
    assert allowed[OperatorRole.VIEWER] == {Permission.VIEW}
    assert allowed[OperatorRole.OPERATOR] == {
        Permission.VIEW,
        Permission.REPLAY,
        Permission.PAUSE,
        Permission.DEAD_LETTER,
    }
    assert allowed[OperatorRole.ADMIN] == allowed[OperatorRole.OPERATOR] | {Permission.MANAGE_OPERATORS}
    assert allowed[OperatorRole.AUDITOR] == {Permission.VIEW, Permission.READ_AUDIT, Permission.UNMASK}
    assert set(GRANTS) == set(Permission)
    with pytest.raises(ForbiddenError, match="viewer role may not replay"):
        require_permission(actor(OperatorRole.VIEWER), Permission.REPLAY)
    # OAuth clients: an operator client with the operations scope acts as the operator role; nobody else.
    client = Principal("c1", Role.OPERATOR, "X26", frozenset({"operations"}))
    assert can(client, Permission.REPLAY) and not can(client, Permission.UNMASK)
    narrowed = Principal("c1", Role.OPERATOR, "X26", frozenset({"prescriptions:read"}))
    trust = Principal("t1", Role.TRUST, "RBA", frozenset({"prescriptions:read"}))
    assert not can(narrowed, Permission.VIEW) and not can(trust, Permission.VIEW)


PATIENT = Patient(
    nhs_number="9434765919",
    family="Rowley",
    given=("Anna", "Jane"),
    birth_date=date(1961, 3, 7),
    sex=Sex.FEMALE,
    address=Address(lines=("14 Tremona Road", "Southampton"), postcode="SO16 6YD"),
    phone="07700 900123",
)


def test_masking_blanks_every_spelling_of_the_patient_in_any_format() -> None:
    values = patient_values(PATIENT)
    csv = "RBA,HC-1,9434765919,K123,Mx,Rowley,Anna Jane,07/03/1961,14 Tremona Road,Southampton,SO16 6YD,07700 900123"
    hl7 = "PID|||9434765919^^^NHS||ROWLEY^ANNA^JANE||19610307|F|||14 Tremona Road^^Southampton^^SO16 6YD"
    fhir = '{"value": "943 476 5919", "birthDate": "1961-03-07", "postalCode": "SO166YD"}'
    for text in (csv, hl7, fhir):
        masked = mask_text(text, values)
        for secret in ("9434765919", "943 476 5919", "Rowley", "ROWLEY", "Anna", "1961", "Tremona", "SO16", "07700"):
            assert secret not in masked, (secret, masked)
        assert MASK in masked
    assert "RBA,HC-1" in mask_text(csv, values) and "K123" in mask_text(csv, values)
    # Another valid NHS number is blanked even when the patient is unknown; other digits are not.
    assert mask_text("nhs 655 512 5756 order 1234567890", set()) == f"nhs {MASK} order 1234567890"


def test_patient_view_is_masked_unless_unmasked() -> None:
    assert patient_view(PATIENT, unmasked=False).as_json() == {
        "nhs_number": MASK,
        "name": MASK,
        "birth_date": MASK,
        "address": MASK,
        "masked": True,
    }
    shown = patient_view(PATIENT, unmasked=True)
    assert (shown.nhs_number, shown.name, shown.birth_date) == ("943 476 5919", "Anna Jane ROWLEY", "1961-03-07")
