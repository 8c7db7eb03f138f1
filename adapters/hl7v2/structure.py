"""A message's segments against the profile's grammar: which segment is which, and what is missing or misplaced."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.hl7v2 import issues as codes
from adapters.hl7v2.er7 import Segment, is_segment_id
from adapters.hl7v2.profile import BY_POSITION, GRAMMAR, GROUP_END, GROUP_START, MANDATORY, POSITION
from gateway.errors import Issue

_NTE = POSITION["NTE"]
_RXR = POSITION["RXR"]


@dataclass(slots=True)
class ItemGroup:
    """One `ORC RXE [TQ1] RXR {NTE}` group: one item. A segment the message lacks is None (and reported)."""

    orc: Segment | None = None
    rxe: Segment | None = None
    tq1: Segment | None = None
    rxr: Segment | None = None
    notes: list[Segment] = field(default_factory=list)


@dataclass(slots=True)
class Structure:
    msh: Segment
    pid: Segment | None = None
    groups: list[ItemGroup] = field(default_factory=list)
    zhc: Segment | None = None


def read_structure(segments: list[Segment], issues: list[Issue]) -> Structure:
    """Place each segment in the grammar; report missing, misplaced, malformed and ignored segments."""
    structure = Structure(msh=segments[0])
    position = POSITION["MSH"]
    for segment in segments[1:]:
        target = POSITION.get(segment.id)
        if target is None:
            _unknown(segment, issues)
            continue
        if target == GROUP_START and GROUP_START <= position <= GROUP_END:  # the next item
            _report_missing(position, _RXR + 1, segment, issues, before=True)
            structure.groups.append(ItemGroup(orc=segment))
            position = target
            continue
        if GROUP_START < target <= _RXR <= position <= GROUP_END:  # the next item, its ORC missing
            _report_missing(GROUP_START - 1, target, segment, issues, before=True)
            structure.groups.append(ItemGroup())
            _place(structure, segment)
            position = target
            continue
        if target <= position and not target == position == _NTE:
            issues.append(codes.located(
                codes.SEGMENT_SEQUENCE, segment.number, segment.id,
                f"{segment.id} is out of place after {BY_POSITION[position]}: it is ignored",
                value=segment.id, expected=_allowed_after(position)))
            continue
        _report_missing(position, target, segment, issues, before=True)
        if GROUP_START <= target <= GROUP_END and (position < GROUP_START or target == GROUP_START):
            structure.groups.append(ItemGroup())
        _place(structure, segment)
        position = target
    _report_missing(position, POSITION["ZHC"] + 1, segments[-1], issues, before=False)
    return structure


def _place(structure: Structure, segment: Segment) -> None:
    if segment.id == "PID":
        structure.pid = segment
    elif segment.id == "ZHC":
        structure.zhc = segment
    elif segment.id == "NTE":
        structure.groups[-1].notes.append(segment)
    elif segment.id in ("ORC", "RXE", "TQ1", "RXR"):
        setattr(structure.groups[-1], segment.id.lower(), segment)


def _report_missing(after: int, until: int, neighbour: Segment, issues: list[Issue], *, before: bool) -> None:
    """Report the mandatory segments whose places lie strictly between `after` and `until`."""
    for position in range(after + 1, until):
        name = BY_POSITION[position]
        if name not in MANDATORY:
            continue
        where = f"before {neighbour.id} (segment {neighbour.number})" if before else "at the end of the message"
        issues.append(codes.located(codes.MISSING_SEGMENT, neighbour.number, name, f"{name} is missing {where}",
                                    expected=GRAMMAR))


def _unknown(segment: Segment, issues: list[Issue]) -> None:
    if is_segment_id(segment.id):
        issues.append(codes.located(
            codes.IGNORED_SEGMENT, segment.number, segment.id,
            f"{segment.id} is not part of the homecare order profile: it is ignored", severity="warning",
            value=segment.id, expected=GRAMMAR))
    else:
        issues.append(codes.located(
            codes.MALFORMED_SEGMENT, segment.number, None,
            f"'{segment.id[:20]}' is not a segment id", value=segment.id[:200],
            expected="a segment: 3 capital letters or digits (e.g. PID), then its fields"))


def _allowed_after(position: int) -> str:
    if position >= _RXR:
        return "NTE, ORC or ZHC" if position <= _NTE else "nothing after ZHC"
    names: list[str] = []
    for later in range(position + 1, POSITION["ZHC"] + 1):
        names.append(BY_POSITION[later])
        if BY_POSITION[later] in MANDATORY:
            break
    return " or ".join(names)
