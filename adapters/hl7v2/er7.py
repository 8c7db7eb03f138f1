"""A typed wrapper around python-hl7 (`hl7`): ER7 text to segments, field values decoded, escapes checked.

python-hl7 is untyped and logs, rather than reports, escape sequences it cannot decode; this module is the only
place that imports it. Values come back as `str`, escapes are checked before the library decodes them, and
library exceptions become `Er7Error`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import hl7
from hl7.util import unescape

STANDARD_ENCODING = "^~\\&"
HEADER_SEGMENTS = ("MSH", "BHS", "FHS")
_SEGMENT_ID_RE = re.compile(r"[A-Z][A-Z0-9]{2}")
# What python-hl7 decodes: separators (F S T R E), highlighting (H N, dropped), hex bytes, formatting commands.
_VALID_ESCAPE_RE = re.compile(r"[FSTREHN]|X(?:[0-9A-Fa-f]{2})+|\.(?:br|sp|fi|nf|in|ti|sk|ce)(?:[+-]?[0-9]+)?")
_DROP_HIGHLIGHT = {"H": "", "N": ""}
ESCAPES_EXPECTED = r"escape sequences \F\ \S\ \T\ \R\ \E\, \Xhh\ or \.br\ (the escape character written as \E\)"


class Er7Error(Exception):
    """Text python-hl7 cannot read as a message or a header segment."""


def is_segment_id(value: str) -> bool:
    return _SEGMENT_ID_RE.fullmatch(value) is not None


def encoding_problem(header_line: str) -> str | None:
    """Why the separators declared by an MSH, BHS or FHS line are unusable, or None when they are fine."""
    if len(header_line) < 4:
        return "the segment stops before its field separator"
    separator = header_line[3]
    end = header_line.find(separator, 4)
    encoding = header_line[4:] if end == -1 else header_line[4:end]
    declared = separator + encoding
    if separator.isalnum() or separator.isspace():
        return f"'{separator}' cannot be the field separator"
    if len(encoding) not in (4, 5):
        return f"'{encoding}' is not 4 encoding characters"
    if len(set(declared)) != len(declared) or any(c.isalnum() or c.isspace() for c in encoding):
        return f"'{encoding}' has repeated, blank or alphanumeric encoding characters"
    if end == -1:
        return "the segment has no fields after its encoding characters"
    return None


# python-hl7 containers are lists whose __getitem__ is overridden for slices; plain indexing can skip it.
_item = list.__getitem__


class Segment:
    """One segment and its position in the message (1-based); HL7 numbering: MSH-3 is `value(3)`."""

    __slots__ = ("_segment", "id", "number", "source")

    def __init__(self, segment: Any, number: int, source: str) -> None:
        self._segment = segment
        self.number = number
        self.source = source
        self.id = str(segment[0]) if len(segment) else ""

    def may_hold_escapes(self) -> bool:
        """Whether the escape character occurs in the segment's values (a cheap test before `leaves`)."""
        start = self.source.find(self.source[3], 4) if self.id in HEADER_SEGMENTS else 0
        return self._segment.esc in self.source[start:]

    @property
    def encoding_characters(self) -> str:
        seps: str = self._segment.separators  # "\r", field, repetition, component, subcomponent
        return f"{seps[3]}{seps[2]}{self._segment.esc}{seps[4]}"

    def raw(self, field: int, repetition: int = 1, component: int = 1, subcomponent: int = 1) -> str:
        """The text as sent, escape sequences and all; blank when the message stops before it."""
        seg = self._segment
        if not 0 < field < len(seg):
            return ""
        if self.id in HEADER_SEGMENTS and field in (1, 2):
            return str(seg[field])
        node: Any = _item(seg, field)
        indices = (repetition, component, subcomponent)
        for depth, index in enumerate(indices):
            if isinstance(node, str):  # python-hl7 stops splitting where no separator follows
                return node if all(i == 1 for i in indices[depth:]) else ""
            if not 0 < index <= len(node):
                return ""
            node = _item(node, index - 1)
        return node if isinstance(node, str) else ""

    def field_text(self, field: int) -> str:
        """A whole field as sent (repetitions, components and escapes included)."""
        return str(self._segment[field]) if 0 < field < len(self._segment) else ""

    def value(self, field: int, repetition: int = 1, component: int = 1, subcomponent: int = 1) -> str:
        """The decoded text; a value whose escapes python-hl7 cannot decode is returned as sent."""
        raw = self.raw(field, repetition, component, subcomponent)
        if self.id in HEADER_SEGMENTS and field in (1, 2):
            return raw
        if bad_escape(raw, self._segment.esc) is not None:
            return raw
        return str(unescape(self._segment, raw, _DROP_HIGHLIGHT))

    def field_count(self) -> int:
        return len(self._segment) - 1

    def repetitions(self, field: int) -> int:
        """How many repetitions the field holds (0 when it is blank or absent)."""
        if not 0 < field <= self.field_count() or not str(self._segment[field]):
            return 0
        node = self._segment[field]
        return 1 if isinstance(node, str) else len(node)

    def leaves(self) -> Iterator[tuple[str, str]]:
        """Every non-blank leaf value as (location path, raw text), e.g. ("PID-5[1].2", "Jane")."""
        first = 3 if self.id in HEADER_SEGMENTS else 1
        for f in range(first, self.field_count() + 1):
            for indices, raw in _leaves(self._segment[f], ()):
                r, c, *s = (*indices, 1) if len(indices) == 1 else indices
                yield f"{self.id}-{f}[{r}].{c}" + "".join(f".{i}" for i in s), raw


def _leaves(node: Any, indices: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], str]]:
    if isinstance(node, str):
        if node:
            yield indices or (1,), node
        return
    if len(indices) == 2 and len(node) == 1:  # a component without subcomponents is located as the component
        yield from _leaves(node[0], indices)
        return
    for i, child in enumerate(node, 1):
        yield from _leaves(child, (*indices, i))


def bad_escape(raw: str, esc: str) -> str | None:
    """The first escape sequence in `raw` that cannot be decoded (`\\` + text when unterminated), or None."""
    if not esc or esc not in raw:
        return None
    parts = raw.split(esc)
    if len(parts) % 2 == 0:
        return esc + parts[-1]
    for sequence in parts[1::2]:
        if _VALID_ESCAPE_RE.fullmatch(sequence) is None:
            return f"{esc}{sequence}{esc}"
    return None


def parse_segments(lines: list[str]) -> list[Segment]:
    """The segments of one message (its MSH line first), numbered from 1."""
    problem = encoding_problem(lines[0]) if lines else "the message is empty"
    if problem is not None:
        raise Er7Error(problem)
    try:
        message = hl7.parse("\r".join(lines))
    except (hl7.HL7Exception, ValueError, IndexError, AssertionError) as exc:
        raise Er7Error(str(exc) or type(exc).__name__) from exc
    if len(message) != len(lines):  # python-hl7 splits on \r only, as the lines were: this cannot happen
        raise Er7Error(f"{len(lines)} segments read as {len(message)}")
    pairs = zip(message, lines, strict=True)
    return [Segment(segment, number, line) for number, (segment, line) in enumerate(pairs, 1)]


def parse_header(line: str) -> Segment:
    """A lone FHS or BHS (or MSH) segment."""
    return parse_segments([line])[0]


def parse_trailer(header: str, trailer: str) -> Segment:
    """A BTS or FTS, read with the separators its BHS or FHS declares."""
    return parse_segments([header, trailer])[1]


def escape(text: str, encoding_characters: str = STANDARD_ENCODING, field_separator: str = "|") -> str:
    """`text` with every separator and the escape character written as its HL7 escape sequence."""
    component, repetition, esc, subcomponent = (encoding_characters[i] for i in range(4))
    out = text.replace(esc, f"{esc}E{esc}")
    for char, code in ((field_separator, "F"), (component, "S"), (subcomponent, "T"), (repetition, "R")):
        out = out.replace(char, f"{esc}{code}{esc}")
    return out.replace("\r\n", f"{esc}.br{esc}").replace("\r", f"{esc}.br{esc}").replace("\n", f"{esc}.br{esc}")
