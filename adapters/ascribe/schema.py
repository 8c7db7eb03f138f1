"""The shipped XML Schema, run before mapping; its findings become located issues, per prescription or on the root.

libxml2 reports each finding with a message and a node path (`/*/*[3]/*[7]` for elements in a default
namespace, `/a:HomecareExport/a:Prescription[3]` for prefixed ones). The path is resolved back to the element,
so each issue carries the element's source line and the XPath the spec's way (`Prescription[3]/Items/Item[2]`),
and goes to the prescription that holds it; findings on the root reject the whole document.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from adapters.ascribe import issues as codes
from adapters.ascribe.document import Document
from adapters.ascribe.lexical import DECIMAL_RE, INTEGER_RE
from adapters.ascribe.nodes import (
    NS,
    PRESCRIPTION,
    ROOT,
    ROOT_PATH,
    attributes_of,
    expected,
    generic,
    local_name,
    node,
    step,
)
from gateway.errors import Issue

SCHEMA_PACKAGE = "adapters.ascribe"
SCHEMA_FILE = "schema/homecare-export-2.xsd"

_MESSAGE_RE = re.compile(r"Element '(?P<element>[^']*)'(?:, attribute '(?P<attribute>[^']*)')?: (?P<detail>.*)", re.S)
_NAMESPACE_RE = re.compile(r"\{[^}]*\}")
_STEP_RE = re.compile(r"(?P<name>[^\[\]]+)(?:\[(?P<n>[0-9]+)\])?")
_REQUIRED_RE = re.compile(r"The attribute '([^']+)' is required but missing")
_NOT_ALLOWED_RE = re.compile(r"The attribute '([^']+)' is not allowed")
_NOT_EXPECTED_RE = re.compile(r"This element is not expected\.(?: Expected is (?:one of )?\( (.*) \)\.)?")
_MISSING_CHILD_RE = re.compile(r"Missing child element\(s\)\. Expected is (?:one of )?\( (.*) \)\.")
_FACET_RE = re.compile(r"\[facet '(\w+)'\]")
_DUPLICATE_RE = re.compile(r"Duplicate key-sequence \['(.*)'\]")
_RANGE_FACETS = frozenset({"minInclusive", "maxInclusive", "minExclusive", "maxExclusive"})
_NUMERIC_CODES = {codes.INVALID_INTEGER: INTEGER_RE, codes.INVALID_DECIMAL: DECIMAL_RE}
_XS = "{http://www.w3.org/2001/XMLSchema}"
_local = threading.local()


@cache
def schema_source() -> bytes:
    """The XSD as shipped in the package."""
    return resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_FILE).read_bytes()


def _split_schema() -> etree.XMLSchema:
    """The shipped schema, adjusted so the root and each prescription can be validated apart.

    The root's Prescription particle gets a type that skips the prescription's content, and Prescription is
    also declared as a global element, so each Prescription is a validation root of its own. Validating the
    whole document at once costs libxml2 time in proportion to a prescription's position for each finding:
    a 5,000-prescription export with an error in each took seconds.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    xsd = etree.fromstring(schema_source(), parser)
    particle = xsd.find(f"{_XS}complexType[@name='{ROOT}']/{_XS}sequence/{_XS}element[@name='{PRESCRIPTION}']")
    particle.set("type", "hc:PrescriptionShell")
    shell = etree.SubElement(xsd, f"{_XS}complexType", name="PrescriptionShell")
    etree.SubElement(etree.SubElement(shell, f"{_XS}sequence"), f"{_XS}any", processContents="skip", minOccurs="0",
                     maxOccurs="unbounded")
    etree.SubElement(shell, f"{_XS}anyAttribute", processContents="skip")
    etree.SubElement(xsd, f"{_XS}element", name=PRESCRIPTION, type=f"hc:{PRESCRIPTION}")
    return etree.XMLSchema(xsd)


def _validator() -> etree.XMLSchema:
    # lxml keeps a validator's error log on the validator: one per thread, compiled once (a few milliseconds).
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        schema = _local.schema = _split_schema()
    return schema


@dataclass(slots=True)
class Findings:
    """What the schema found in one prescription, and which nodes it has spoken for."""

    issues: list[Issue] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)  # paths with an issue: the later checks do not repeat them
    # "A child is missing: one of A, B": held back per parent, as the later checks can name the missing one.
    missing_children: dict[str, Issue] = field(default_factory=dict)


@dataclass(slots=True)
class SchemaReport:
    file_issues: list[Issue] = field(default_factory=list)
    root: Findings = field(default_factory=Findings)
    prescriptions: dict[int, Findings] = field(default_factory=dict)


def validate(document: Document) -> SchemaReport:
    """The root (attributes, children), then each prescription on its own, against the shipped schema."""
    report = SchemaReport()
    schema = _validator()
    index = {element: i for i, element in enumerate(document.prescriptions)}
    if not schema.validate(document.root):
        locator = _Locator(document.root, ROOT_PATH, document)
        for entry in schema.error_log:
            element = locator.resolve(entry.path)
            i = None if element is None else index.get(element)
            if element is None or i is None:
                _add(entry, element, locator, report.root, None)
            else:  # text inside a Prescription: reported on the prescription
                _add(entry, element, _Locator(element, f"{PRESCRIPTION}[{i + 1}]", document),
                     report.prescriptions.setdefault(i, Findings()), element.get("id"))
    for i, element in enumerate(document.prescriptions):
        if schema.validate(element):
            continue
        locator = _Locator(element, f"{PRESCRIPTION}[{i + 1}]", document)
        findings = report.prescriptions.setdefault(i, Findings())
        for entry in schema.error_log:
            _add(entry, locator.resolve(entry.path), locator, findings, element.get("id"))
    report.file_issues = [*report.root.issues, *report.root.missing_children.values()]
    return report


def _add(entry: etree._LogEntry, element: etree._Element | None, locator: _Locator, findings: Findings,
         rx: str | None) -> None:
    """One libxml2 finding as a located issue on `findings`, unless an issue already stands at its path."""
    message: str = entry.message
    if element is None:  # not expected from libxml2; reported as found rather than dropped
        findings.issues.append(codes.located(codes.INVALID_CONTENT, _NAMESPACE_RE.sub("", message).strip(),
                                             line=entry.line, path=entry.path, rx=rx))
        return
    path = locator.describe(element)
    matched = _MESSAGE_RE.fullmatch(message.strip())
    detail = _NAMESPACE_RE.sub("", matched["detail"] if matched else message).strip()
    attribute = matched["attribute"] if matched else None
    if detail.startswith("Warning:"):  # libxml2's aside after a value it has already refused
        return
    finding = _classify(detail, attribute, element, path)
    if finding.path in findings.covered:
        return  # libxml2 often reports a facet and then the type for the same value
    findings.covered.add(finding.path)
    issue = codes.located(finding.code, finding.message, line=locator.line(element), path=finding.path,
                          value=finding.value, expected=finding.expected, rx=rx)
    if finding.held_for:
        findings.missing_children[finding.held_for] = issue
    else:
        findings.issues.append(issue)


@dataclass(frozen=True, slots=True)
class _Finding:
    code: str
    path: str
    message: str
    value: str | None = None
    expected: str | None = None
    held_for: str | None = None  # held back unless the later checks find nothing missing at this path


def _classify(detail: str, attribute: str | None, element: etree._Element, path: str) -> _Finding:
    name = local_name(element.tag) if isinstance(element.tag, str) else "?"
    if m := _REQUIRED_RE.match(detail):
        target = f"{path}/@{m[1]}"
        return _Finding(codes.MISSING_VALUE, target, codes.absent(f"@{m[1]}"), expected=expected(generic(target)))
    if m := _NOT_ALLOWED_RE.match(detail):
        # The value is looked up under the attribute's namespaced name; the path and message use its local name.
        allowed = attributes_of(generic(path))
        return _Finding(codes.UNEXPECTED_ATTRIBUTE, f"{path}/@{m[1]}", f"attribute {m[1]} is not allowed on {name}",
                        value=element.get(attribute or m[1]),
                        expected=f"only {', '.join(allowed)}" if allowed else f"no attributes on {name}")
    if m := _NOT_EXPECTED_RE.match(detail):
        parent = path.rpartition("/")[0]
        alternatives = _names(m[1])
        hint = f"; expected {' or '.join(alternatives)}" if alternatives else ""
        held_for = None
        container = element.getparent()
        if len(alternatives) == 1 and container is not None and container.find(f"{NS}{alternatives[0]}") is None:
            # `Deliveries` where `Supply` should be, and no Supply at all: "Supply is missing", which the later
            # checks report, is the clearer message.
            held_for = f"{parent}/{step(alternatives[0], 1, 0)}"
        return _Finding(codes.UNEXPECTED_ELEMENT, path, f"element {name} is not expected here{hint}", value=name,
                        expected=" or ".join(alternatives) or f"no {name} element here", held_for=held_for)
    if m := _MISSING_CHILD_RE.match(detail):
        alternatives = _names(m[1])
        if len(alternatives) == 1:
            target = f"{path}/{step(alternatives[0], 1, 0)}"
            return _Finding(codes.MISSING_VALUE, target, codes.absent(alternatives[0]),
                            expected=expected(generic(target)) or alternatives[0])
        return _Finding(codes.MISSING_VALUE, path, f"{name} lacks a mandatory element: one of "
                        f"{', '.join(alternatives)} is expected next", expected=f"one of {', '.join(alternatives)}",
                        held_for=path)
    if m := _DUPLICATE_RE.search(detail):
        return _Finding(codes.DUPLICATE_LINE_NO, f"{path}/@line", f"line {m[1]} is already used by another Item of "
                        "this prescription", value=m[1], expected=expected(generic(f"{path}/@line")))
    if "Character content other than whitespace is not allowed" in detail:
        text = (element.text or "").strip()
        return _Finding(codes.UNEXPECTED_TEXT, path, f"text is not allowed directly inside {name}", value=text,
                        expected=expected(generic(path)))
    if "is not a valid value" in detail or _FACET_RE.search(detail):
        return _value_finding(detail, attribute, element, path)
    target = f"{path}/@{attribute}" if attribute else path
    return _Finding(codes.INVALID_CONTENT, target, detail, expected=expected(generic(target)))


def _value_finding(detail: str, attribute: str | None, element: etree._Element, path: str) -> _Finding:
    """A value refused for its type or a facet: coded by what the spec expects of that node."""
    target = f"{path}/@{attribute}" if attribute else path
    key = generic(target)
    value = (element.get(attribute) if attribute else element.text) or ""
    value = value.strip()
    allowed = expected(key)
    spec_node = node(key)
    facet = _FACET_RE.search(detail)
    kind = facet[1] if facet else ""
    if not value:
        return _Finding(codes.MISSING_VALUE, target, codes.blank(target.rpartition("/")[2]), value=value,
                        expected=allowed)
    if kind == "enumeration":
        return _Finding(codes.INVALID_CODE, target, codes.not_one_of(value, allowed), value=value, expected=allowed)
    code = spec_node.invalid_code if spec_node else codes.INVALID_FORMAT
    lexical = _NUMERIC_CODES.get(code)
    if kind in _RANGE_FACETS or (lexical is not None and lexical.fullmatch(value)):
        return _Finding(codes.OUT_OF_RANGE, target, codes.out_of_range(value, allowed), value=value, expected=allowed)
    return _Finding(code, target, codes.invalid(value, allowed), value=value, expected=allowed)


def _names(listed: str | None) -> list[str]:
    return [name.strip() for name in listed.split(",")] if listed else []


class _Locator:
    """libxml2 node paths, relative to the validation root, back to elements; elements to the spec's XPath."""

    def __init__(self, top: etree._Element, top_path: str, document: Document) -> None:
        self.top = top
        self.top_path = top_path
        self.line = document.line
        # Keyed by id() of a parent kept alive by `top` or by an earlier list: siblings are scanned once.
        self._candidates: dict[tuple[int, str], list[etree._Element]] = {}

    def resolve(self, libxml_path: str) -> etree._Element | None:
        steps = libxml_path.split("/")
        if len(steps) < 2 or steps[0]:
            return None
        current = self.top
        for text in steps[2:]:
            m = _STEP_RE.fullmatch(text)
            if m is None:
                return None
            candidates = self._children(current, m["name"])
            position = int(m["n"] or 1)
            if position > len(candidates):
                return None
            current = candidates[position - 1]
        return current

    def _children(self, parent: etree._Element, name: str) -> list[etree._Element]:
        key = (id(parent), name)
        found = self._candidates.get(key)
        if found is None:
            elements = [child for child in parent if isinstance(child.tag, str)]
            if name != "*":  # the position of a prefixed name counts siblings of that name and prefix only
                prefix, _, local = name.rpartition(":")
                elements = [e for e in elements if local_name(e.tag) == local and (e.prefix or "") == prefix]
            found = self._candidates[key] = elements
        return found

    def describe(self, element: etree._Element) -> str:
        """The spec-style XPath of an element at or below `top`."""
        steps: list[str] = []
        current = element
        while current is not self.top:
            parent = current.getparent()
            if parent is None:
                break
            same = [e for e in parent if e.tag == current.tag]
            tag = current.tag if isinstance(current.tag, str) else ""
            steps.append(step(local_name(tag), same.index(current) + 1, len(same)))
            current = parent
        return "/".join([self.top_path, *reversed(steps)])
