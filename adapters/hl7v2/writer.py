"""Simple dicts to HL7 v2 ER7 text: what the tests, the demo and the ACK builder write messages with.

A segment is `(segment id, {field number: value})`. A value is a `str` (one value), a `tuple` of str (its
components) or a `list` of those (its repetitions). Text is escaped; for MSH, BHS and FHS fields 1 and 2 (the
separators) are written from `encoding_characters` and the mapping starts at field 3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from adapters.hl7v2.er7 import HEADER_SEGMENTS, STANDARD_ENCODING, escape

Components = tuple[str, ...]
FieldValue = str | Components | list[str | Components]
SegmentSpec = tuple[str, Mapping[int, FieldValue]]


@dataclass
class MessageSpec:
    """A message as editable dicts: `spec.segment("ORC", 2)[1] = "XO"` edits the second ORC, then `render()`."""

    segments: list[tuple[str, dict[int, FieldValue]]] = field(default_factory=list)

    def segment(self, segment_id: str, occurrence: int = 1) -> dict[int, FieldValue]:
        found = [fields for name, fields in self.segments if name == segment_id]
        if not 0 < occurrence <= len(found):
            raise KeyError(f"{segment_id} #{occurrence}: the message has {len(found)}")
        return found[occurrence - 1]

    def all(self, segment_id: str) -> list[dict[int, FieldValue]]:
        return [fields for name, fields in self.segments if name == segment_id]

    def render(self) -> str:
        return render_message(self.segments)


def render_segment(segment_id: str, fields: Mapping[int, FieldValue], *, encoding_characters: str = STANDARD_ENCODING,
                   field_separator: str = "|") -> str:
    """One segment, without its terminator."""
    component, repetition = encoding_characters[0], encoding_characters[1]

    def text(value: str | Components) -> str:
        parts = (value,) if isinstance(value, str) else value
        # Trailing empty components are left out, as HL7 recommends (an escaped value never ends in a separator).
        return component.join(escape(p, encoding_characters, field_separator) for p in parts).rstrip(component)

    header = segment_id in HEADER_SEGMENTS
    first = 3 if header else 1
    if any(number < first for number in fields):
        raise ValueError(f"{segment_id} fields start at {first}: {sorted(fields)}")
    cells = [""] * (max(fields, default=first - 1) - first + 1)
    for number, value in fields.items():
        cells[number - first] = repetition.join(text(v) for v in value) if isinstance(value, list) else text(value)
    prefix = [segment_id, encoding_characters] if header else [segment_id]
    return field_separator.join(prefix + cells)


def render_message(segments: Iterable[SegmentSpec], *, encoding_characters: str = STANDARD_ENCODING,
                   field_separator: str = "|") -> str:
    """A message: its segments, each ended by a carriage return."""
    return "".join(render_segment(segment_id, fields, encoding_characters=encoding_characters,
                                  field_separator=field_separator) + "\r" for segment_id, fields in segments)


def render_batch(messages: Sequence[str], *, batch_header: Mapping[int, FieldValue] | None = None,
                 file_header: Mapping[int, FieldValue] | None = None) -> str:
    """Messages in a BHS ... BTS batch (counted in BTS-1), itself in FHS ... FTS when `file_header` is given."""
    out = render_message([("FHS", file_header)]) if file_header is not None else ""
    out += render_message([("BHS", batch_header or {})]) + "".join(messages)
    out += render_message([("BTS", {1: str(len(messages))})])
    return out + (render_message([("FTS", {1: "1"})]) if file_header is not None else "")
