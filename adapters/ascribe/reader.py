"""Typed access to the elements and attributes of one prescription; every problem becomes an Issue at its XPath.

These checks run after the schema. They repeat its lexical checks only because libxml2 stops checking an
element's remaining children after the first misplaced one, and all errors of a prescription are reported; a
node the schema already reported on is not reported again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TypeVar

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from adapters.ascribe import issues as codes
from adapters.ascribe.document import Lines
from adapters.ascribe.lexical import (
    DATE_RE,
    DATETIME_RE,
    DECIMAL_RE,
    INTEGER_RE,
    MAX_INTEGER_DIGITS,
    to_date,
    to_datetime,
    to_decimal,
)
from adapters.ascribe.nodes import NS, expected, step
from adapters.ascribe.schema import Findings
from gateway.domain.identifiers import (
    PRESCRIBER_CODE_FORMATS,
    is_valid_nhs_number,
    is_valid_ods_code,
    is_valid_prescriber_code,
    is_valid_snomed_id,
    normalise_postcode,
)
from gateway.errors import Issue, Severity

T = TypeVar("T")
_ANY_OF_OURS = f"{NS}*"
_NS_LENGTH = len(NS)
_NHS_NUMBER_RE = re.compile(r"[0-9]{10}")
# The same few dm+d codes recur on thousands of items of one export.
_is_snomed_id = lru_cache(maxsize=4096)(is_valid_snomed_id)


@dataclass(slots=True)  # not frozen: a frozen dataclass is ten times slower to build, and there are 200,000
class Field:
    """One value: an attribute, or the text of an element. `value` is None when the node is absent."""

    path: str
    key: str  # the path without positions: where NODES says what is expected
    node: etree._Element  # whose source line an issue names (the parent, for what is absent)
    value: str | None
    parent: str

    @property
    def step(self) -> str:
        return self.path.rpartition("/")[2]


class Element:
    """One element of a prescription: its XPath, its generic key, and its children by local name."""

    __slots__ = ("_by_name", "el", "key", "path")

    def __init__(self, el: etree._Element, path: str, key: str) -> None:
        self.el = el
        self.path = path
        self.key = key
        self._by_name: dict[str, list[etree._Element]] | None = None

    def _children(self) -> dict[str, list[etree._Element]]:
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = {}
            # Elements of other namespaces (and nothing else: comments and PIs are dropped) are the schema's job.
            for child in self.el.iterchildren(_ANY_OF_OURS):
                by_name.setdefault(child.tag[_NS_LENGTH:], []).append(child)
        return by_name

    def all(self, name: str) -> list[Element]:
        found = self._children().get(name, [])
        return [Element(el, f"{self.path}/{step(name, i, len(found))}", f"{self.key}/{name}")
                for i, el in enumerate(found, 1)]

    def one(self, name: str) -> Element | None:
        found = self._children().get(name)
        if not found:
            return None
        return Element(found[0], f"{self.path}/{step(name, 1, len(found))}", f"{self.key}/{name}")

    def absent(self, name: str) -> Field:
        """The field of a child element that is not there, for reporting it missing."""
        return Field(f"{self.path}/{step(name, 1, 0)}", f"{self.key}/{name}", self.el, None, self.path)

    def text(self, name: str) -> Field:
        """The text of the first child element `name` (no wrapper: most fields are leaves read this way)."""
        found = self._children().get(name)
        if not found:
            return self.absent(name)
        child = found[0]
        return Field(f"{self.path}/{step(name, 1, len(found))}", f"{self.key}/{name}", child,
                     (child.text or "").strip(), self.path)

    def itself(self, value: str | None = None) -> Field:
        """The element as the subject of an issue that is about it rather than its text."""
        return Field(self.path, self.key, self.el, value, self.path.rpartition("/")[0])

    def own_text(self) -> Field:
        return Field(self.path, self.key, self.el, (self.el.text or "").strip(), self.path.rpartition("/")[0])

    def attribute(self, name: str) -> Field:
        value = self.el.get(name)
        return Field(f"{self.path}/@{name}", f"{self.key}/@{name}", self.el,
                     None if value is None else value.strip(), self.path)


class Checker:
    """Typed reads that record a located issue for every value that is missing or wrong."""

    __slots__ = ("_covered", "_line", "_missing_children", "_reported", "rx")

    def __init__(self, rx: str | None, line: Lines, findings: Findings | None = None) -> None:
        findings = findings or Findings()
        self.rx = rx
        self._line = line
        self._reported: list[Issue] = list(findings.issues)
        self._covered = set(findings.covered)
        self._missing_children = dict(findings.missing_children)

    @property
    def issues(self) -> list[Issue]:
        """Every issue: the schema's and these checks', with the schema's vaguer "one of these is missing" left
        out where a check named the missing element."""
        return [*self._reported, *self._missing_children.values()]

    @property
    def failed(self) -> bool:
        return any(i.severity in ("error", "fatal") for i in self.issues)

    def fail(self, f: Field, code: str, message: str, allowed: str | None = None,
             severity: Severity = "error") -> None:
        if f.path in self._covered:
            return
        self._covered.add(f.path)
        self._reported.append(codes.located(code, message, line=self._line(f.node), path=f.path, value=f.value,
                                            expected=allowed or expected(f.key), rx=self.rx, severity=severity))

    def missing(self, f: Field, why: str = "is mandatory") -> None:
        for held in (f.parent, f.path):  # the schema's vaguer report of the same gap
            self._missing_children.pop(held, None)
        self.fail(f, codes.MISSING_VALUE, codes.absent(f.step, why))

    def element(self, parent: Element, name: str, why: str = "is mandatory") -> Element | None:
        child = parent.one(name)
        if child is None:
            self.missing(parent.absent(name), why)
        return child

    def text(self, f: Field, *, required: bool = True, why: str = "is mandatory") -> str | None:
        if f.value:
            return f.value
        if f.value is None:
            if required:
                self.missing(f, why)
        else:  # present but empty: the schema's text has at least one character other than white space
            self.fail(f, codes.MISSING_VALUE, codes.blank(f.step, why))
        return None

    def choice(self, f: Field, members: Mapping[str, T], *, required: bool = True) -> T | None:
        value = self.text(f, required=required)
        if value is None:
            return None
        member = members.get(value)
        if member is None:
            self.fail(f, codes.INVALID_CODE, codes.not_one_of(value, expected(f.key)))
        return member

    def pattern(self, f: Field, regex: re.Pattern[str], code: str, *, required: bool = True) -> str | None:
        value = self.text(f, required=required)
        if value is None or regex.fullmatch(value):
            return value
        self.fail(f, code, codes.invalid(value, expected(f.key)))
        return None

    def integer(self, f: Field, low: int, high: int | None = None, *, required: bool = True) -> int | None:
        value = self.text(f, required=required)
        if value is None:
            return None
        if INTEGER_RE.fullmatch(value) is None:
            self.fail(f, codes.INVALID_INTEGER, codes.invalid(value, expected(f.key)))
            return None
        number = int(value) if len(value) <= MAX_INTEGER_DIGITS else None
        if number is None or number < low or (high is not None and number > high):
            self.fail(f, codes.OUT_OF_RANGE, codes.out_of_range(value, expected(f.key)))
            return None
        return number

    def decimal(self, f: Field, *, low: Decimal, inclusive: bool) -> Decimal | None:
        """An exact Decimal from xs:decimal notation, never through float; at least `low` (or above it)."""
        value = self.text(f)
        if value is None:
            return None
        if DECIMAL_RE.fullmatch(value) is None:
            self.fail(f, codes.INVALID_DECIMAL, codes.invalid(value, expected(f.key)))
            return None
        number = to_decimal(value)
        if number < low or (number == low and not inclusive):
            self.fail(f, codes.OUT_OF_RANGE, codes.out_of_range(value, expected(f.key)))
            return None
        return number

    def date(self, f: Field, *, required: bool = True, today: date | None = None) -> date | None:
        """An xs:date; with `today`, a date after it is refused."""
        value = self.text(f, required=required)
        if value is None:
            return None
        m = DATE_RE.fullmatch(value)
        try:
            parsed = None if m is None else to_date(m)
        except ValueError:
            self.fail(f, codes.INVALID_DATE, f"{value} is not a calendar date")
            return None
        if parsed is None:
            self.fail(f, codes.INVALID_DATE, codes.invalid(value, expected(f.key)))
        elif today is not None and parsed > today:
            self.fail(f, codes.FUTURE_DATE, f"{value} is in the future", f"a date not after today ({today})")
            return None
        return parsed

    def datetime(self, f: Field) -> datetime | None:
        """A mandatory xs:dateTime with its UTC offset, as an aware datetime keeping that offset."""
        value = self.text(f)
        if value is None:
            return None
        m = DATETIME_RE.fullmatch(value)
        try:
            parsed = None if m is None else to_datetime(m)
        except ValueError:
            self.fail(f, codes.INVALID_DATETIME, f"{value} is not a calendar date and time")
            return None
        if parsed is None:
            self.fail(f, codes.INVALID_DATETIME, codes.invalid(value, expected(f.key)))
        return parsed

    def nhs_number(self, f: Field) -> str | None:
        value = self.text(f)
        if value is None:
            return None
        if _NHS_NUMBER_RE.fullmatch(value) is None:
            self.fail(f, codes.INVALID_NHS_NUMBER, f"'{codes.shorten(value)}' is not 10 digits without spaces")
        elif not is_valid_nhs_number(value):
            self.fail(f, codes.INVALID_NHS_NUMBER, f"'{value}' fails the NHS number Modulus 11 check")
        else:
            return value
        return None

    def snomed(self, f: Field, code: str, *, required: bool = True) -> str | None:
        value = self.text(f, required=required)
        if value is None or _is_snomed_id(value):
            return value
        self.fail(f, code, f"'{codes.shorten(value)}' is not a SNOMED CT concept id (6-18 digits with a Verhoeff "
                  "check digit)")
        return None

    def ods(self, f: Field, *, required: bool = True) -> str | None:
        value = self.text(f, required=required)
        if value is None or is_valid_ods_code(value):
            return value
        self.fail(f, codes.INVALID_ODS_CODE, f"'{codes.shorten(value)}' is not an ODS code")
        return None

    def postcode(self, f: Field) -> str | None:
        value = self.text(f)
        if value is None:
            return None
        normalised = normalise_postcode(value)
        if normalised is None:
            self.fail(f, codes.INVALID_POSTCODE, f"'{codes.shorten(value)}' is not a UK postcode")
        return normalised

    def prescriber_code(self, f: Field, code_type: str | None) -> str | None:
        """The registration number, checked against the format of its register when the register is known."""
        value = self.text(f)
        if value is not None and code_type is not None and not is_valid_prescriber_code(code_type, value):
            register_format = PRESCRIBER_CODE_FORMATS[code_type]
            self.fail(f, codes.INVALID_PRESCRIBER_CODE, f"'{codes.shorten(value)}' is not a {code_type} number "
                      f"({register_format})", f"{code_type} number: {register_format}")
            return None
        return value
