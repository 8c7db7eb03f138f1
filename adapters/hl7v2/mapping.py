"""A message's segments to the canonical prescription: ORC for the prescription, one item per ORC/RXE/RXR group."""

from __future__ import annotations

import re
from datetime import date

from pydantic import ValidationError

from adapters.hl7v2 import issues as hl7_codes
from adapters.hl7v2.parties import Data, read_patient, read_prescriber
from adapters.hl7v2.profile import ACTIONS, DMD_SYSTEM, SNOMED_SYSTEM, OrderControl
from adapters.hl7v2.reader import FieldReader
from adapters.hl7v2.structure import ItemGroup, Structure
from adapters.jac import issues as codes
from adapters.jac.rows import YesNo
from gateway.domain.model import Action, HomecarePrescription, ServiceType
from gateway.errors import Issue

SOURCE_FORMAT = "hl7v2"
_RX_NUMBER_RE = re.compile(r"[A-Z0-9-]{1,20}")
_PLACER_RE = re.compile(r"(.+)-([0-9]+)")
# Every item's ORC repeats these prescription-level fields, and they must agree.
_ORC_PRESCRIPTION_FIELDS = (1, 9, 12, 16, 21)
_UNLESS_ANCILLARY = "is mandatory unless ZHC-6 flags the item as ancillary (Y)"


def has_errors(issues: list[Issue]) -> bool:
    return any(i.severity in ("error", "fatal") for i in issues)


def read_prescription(s: Structure, today: date, issues: list[Issue]) -> tuple[str, str, HomecarePrescription | None]:
    """The RxNumber and RxVersion as sent, and the prescription when the whole message is valid."""
    msh = FieldReader(s.msh, issues)
    trust = msh.ods("MSH-4.1", lengths=(3, 5), required=True)
    msh.timestamp("MSH-7")
    orcs = [FieldReader(g.orc, issues) for g in s.groups if g.orc is not None]
    first = orcs[0] if orcs else None
    control = first.code("ORC-1", OrderControl) if first else None
    action = None if control is None else ACTIONS[control]
    zhc = FieldReader(s.zhc, issues) if s.zhc else None
    rx_number, line_numbers = _placer_numbers(orcs, trust)
    rx_version = _version(zhc, action) if zhc else None
    data: Data = {"action": action, "trust_ods": trust, "rx_number": rx_number, "rx_version": rx_version,
                  "source_format": SOURCE_FORMAT}
    if first is not None:
        _check_agreement(orcs)
        data.update(signed_at=first.timestamp("ORC-9"), prescriber=read_prescriber(first),
                    cancel_reason=first.either("ORC-16.2", "ORC-16.1"))
        if action is Action.CANCEL and data["cancel_reason"] is None:
            first.report(codes.MISSING_VALUE, "ORC-16", "ORC-16 is mandatory when ORC-1 is CA but is blank", value="")
        _ordering_facility(first, trust)
    if s.pid is not None:
        data["patient"], data["delivery_address"] = read_patient(FieldReader(s.pid, issues), today)
    if zhc is not None:
        data.update(_homecare(zhc))
        data["items"] = _items(s.groups, line_numbers, zhc, issues)
    version_text = "" if rx_version is None else str(rx_version)
    if has_errors(issues):
        return rx_number or "", version_text, None
    try:
        return rx_number or "", version_text, HomecarePrescription.model_validate(data)
    except ValidationError as exc:  # the field checks are meant to make this unreachable
        issues.append(hl7_codes.located(codes.INVALID_PRESCRIPTION, None, None, str(exc)))
        return rx_number or "", version_text, None


def _placer_numbers(orcs: list[FieldReader], trust: str | None) -> tuple[str | None, list[int]]:
    """The RxNumber shared by every ORC-2, and each item's line number (0 where unreadable)."""
    rx_number: str | None = None
    lines: list[int] = []
    for orc in orcs:
        value = orc.text("ORC-2.1", required=True)
        m = _PLACER_RE.fullmatch(value or "")
        valid = m is not None and _RX_NUMBER_RE.fullmatch(m[1]) is not None and int(m[2]) >= 1
        if value is not None and not valid:
            orc.fail(codes.INVALID_FORMAT, "ORC-2.1", f"'{value}' is not RxNumber-LineNo")
        lines.append(int(m[2]) if m and valid else 0)
        if m and valid and rx_number is None:
            rx_number = m[1]
        elif m and valid and m[1] != rx_number:
            orc.fail(codes.INCONSISTENT_VALUE, "ORC-2.1", f"RxNumber {m[1]} differs from {rx_number} in an earlier "
                     "ORC", f"{rx_number}-<line number>: one prescription per message")
        namespace = orc.values["ORC-2.2"]
        if namespace and trust and namespace != trust:
            orc.fail(codes.INCONSISTENT_VALUE, "ORC-2.2", f"'{namespace}' is not the sending trust {trust} (MSH-4)",
                     trust)
    seen: dict[int, int] = {}
    for orc, line in zip(orcs, lines, strict=True):
        if line and line in seen:
            orc.fail(codes.DUPLICATE_LINE_NO, "ORC-2.1", f"line number {line} is already used in segment {seen[line]}",
                     "a line number not already used in this message")
        seen.setdefault(line, orc.line)
    return rx_number, lines


def _version(zhc: FieldReader, action: Action | None) -> int | None:
    if not zhc.values["ZHC-7"]:
        if action in (Action.AMEND, Action.CANCEL):
            zhc.missing("ZHC-7", "is mandatory when ORC-1 is XO or CA")
            return None
        return 1
    version = zhc.integer("ZHC-7", 1)
    if action is Action.AMEND and version == 1:
        zhc.fail(codes.INVALID_VERSION, "ZHC-7", "an XO replaces an earlier version, so it cannot be version 1",
                 "integer >= 2 for XO")
        return None
    return version


def _check_agreement(orcs: list[FieldReader]) -> None:
    first = orcs[0]
    for orc in orcs[1:]:
        for field in _ORC_PRESCRIPTION_FIELDS:
            seen, reference = orc.segment.field_text(field), first.segment.field_text(field)
            if seen != reference:
                orc.report(codes.INCONSISTENT_VALUE, f"ORC-{field}",
                           f"'{seen}' disagrees with '{reference}' in segment {first.line}; every item's ORC must "
                           f"repeat the same ORC-{field}", value=seen, expected=reference)


def _ordering_facility(orc: FieldReader, trust: str | None) -> None:
    path = "ORC-21[1].10" if orc.values["ORC-21[1].10"] else "ORC-21[1].3"
    ods = orc.ods(path)
    if ods and trust and ods != trust:
        orc.fail(codes.INCONSISTENT_VALUE, path, f"'{ods}' is not the sending trust {trust} (MSH-4)", trust)


def _homecare(zhc: FieldReader) -> Data:
    snomed = zhc.snomed("ZHC-5.1", codes.INVALID_SNOMED_CODE, required=False)
    system = zhc.values["ZHC-5.3"]
    if system and system != SNOMED_SYSTEM:
        zhc.fail(codes.INVALID_CODE, "ZHC-5.3", f"'{system}' is not {SNOMED_SYSTEM}")
    return {"provider_ods": zhc.ods("ZHC-1"), "service_type": zhc.code("ZHC-2", ServiceType),
            "indication": zhc.text("ZHC-5.2", required=True), "indication_snomed": snomed}


def _items(groups: list[ItemGroup], line_numbers: list[int], zhc: FieldReader, issues: list[Issue]) -> list[Data]:
    """One item per group, in line-number order (the list is meaningless when `issues` holds an error)."""
    days = zhc.integer("ZHC-3", 1, 365)
    first_delivery = zhc.date("ZHC-4")
    flags = _ancillary_flags(zhc, len(groups))
    items: list[tuple[int, Data]] = []
    line_of = iter(line_numbers)
    for group, ancillary in zip(groups, flags, strict=True):
        line_no = next(line_of) if group.orc is not None else 0
        if group.rxe is None:
            continue
        item = _item(FieldReader(group.rxe, issues), ancillary)
        item.update(line_no=line_no, days_per_delivery=days, first_delivery_date=first_delivery,
                    route=FieldReader(group.rxr, issues).either("RXR-1.2", "RXR-1.1") if group.rxr else None,
                    review_date=_course_end(FieldReader(group.tq1, issues)) if group.tq1 else None)
        notes = [text for n in group.notes if (text := FieldReader(n, issues).values["NTE-3"])]
        instructions = [text for text in (item["instructions"], *notes) if text]
        item["instructions"] = "\n".join(str(text) for text in instructions) or None
        items.append((line_no, item))
    return [item for _, item in sorted(items, key=lambda pair: pair[0])]


def _ancillary_flags(zhc: FieldReader, count: int) -> list[bool | None]:
    """Each item's flag (N when ZHC-6 is blank); None where the flag is wrong, so the item's dose is not judged."""
    given = zhc.segment.repetitions(6)
    if given and given != count:
        zhc.report(codes.INCONSISTENT_VALUE, "ZHC-6", f"{given} ancillary flags for {count} items",
                   value=zhc.segment.field_text(6), expected=f"{count} flags Y or N, one per item in item order")
    flags: list[bool | None] = []
    for i in range(1, count + 1):
        flag = zhc.code(f"ZHC-6[{i}]", YesNo, required=False) if i <= given else YesNo.NO
        flags.append(None if flag is None and zhc.values[f"ZHC-6[{i}]"] else flag is YesNo.YES)
    return flags


def _item(rxe: FieldReader, ancillary: bool | None) -> Data:
    system = rxe.values["RXE-2.3"]
    if system and system != DMD_SYSTEM:
        rxe.fail(codes.INVALID_CODE, "RXE-2.3", f"'{system}' is not {DMD_SYSTEM}: RXE-2.1 must be a dm+d code")
    item: Data = {
        "dmd_code": rxe.snomed("RXE-2.1", codes.INVALID_DMD_CODE, required=True),
        "description": rxe.text("RXE-2.2", required=True),
        "dose": rxe.decimal("RXE-3", required=ancillary is False, why=_UNLESS_ANCILLARY),
        "dose_unit": rxe.either("RXE-5.1", "RXE-5.2"),
    }
    if item["dose_unit"] is None and rxe.values["RXE-3"]:
        rxe.missing("RXE-5", "is mandatory when RXE-3 is given")
    elif item["dose_unit"] is None and ancillary is False:
        rxe.missing("RXE-5", _UNLESS_ANCILLARY)
    elif item["dose_unit"] is not None and not rxe.values["RXE-3"] and ancillary:
        rxe.missing("RXE-3", "is mandatory when RXE-5 is given")
    frequency = " ".join(text for r in range(1, rxe.segment.repetitions(7) + 1)
                         if (text := rxe.either(f"RXE-7[{r}].1", f"RXE-7[{r}].2")))
    if not frequency and ancillary is False:
        rxe.missing("RXE-7", _UNLESS_ANCILLARY)
    refills = rxe.integer("RXE-12", 0, 51)
    quantity_unit = rxe.either("RXE-11.1", "RXE-11.2")
    if quantity_unit is None:
        rxe.missing("RXE-11")
    instructions = [text for r in range(1, rxe.segment.repetitions(21) + 1)
                    if (text := rxe.either(f"RXE-21[{r}].2", f"RXE-21[{r}].1"))]
    item.update(frequency=frequency or None, qty_per_delivery=rxe.decimal("RXE-10", positive=True),
                qty_unit=quantity_unit, number_of_deliveries=None if refills is None else refills + 1,
                instructions="\n".join(instructions) or None, is_ancillary=bool(ancillary))
    return item


def _course_end(tq1: FieldReader) -> date | None:
    """TQ1-8, the end of the course, is when the prescription is to be reviewed; it may not precede TQ1-7."""
    start, end = tq1.date("TQ1-7"), tq1.date("TQ1-8")
    if start and end and end < start:
        tq1.fail(codes.OUT_OF_RANGE, "TQ1-8", f"the course ends ({end:%Y%m%d}) before it starts ({start:%Y%m%d})")
        return None
    return end
