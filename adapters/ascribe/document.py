"""Bytes to a parsed export, safely: size and encoding checked, any DOCTYPE refused, lxml run with every
resolver off. Whatever is wrong here rejects the whole document with one located issue.

lxml never sees a document that declares a DTD: the prolog is scanned first, so external entities (XXE),
parameter entities and entity expansion (billion laughs) cannot be reached. The parser itself has entity
resolution, DTD loading and network access off and libxml2's safety limits on (huge_tree off: elements at most
256 deep, text nodes at most 10,000,000 characters). XInclude is never processed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from adapters.ascribe import issues as codes
from adapters.ascribe.nodes import NAMESPACE, NS, PRESCRIPTION, ROOT, ROOT_PATH, local_name
from gateway.errors import Issue

MAX_BYTES = 20 * 1024 * 1024
MAX_PRESCRIPTIONS = 5000
# Far above what the spec's elements have (at most 4 attributes; a handful of items, names or telecoms), and low
# enough that the schema validator's cost per finding, which grows with an element's siblings, stays small.
MAX_ATTRIBUTES = 16
MAX_CHILDREN = 1000
ENCODINGS = {"utf-8": "UTF-8", "iso-8859-1": "ISO-8859-1"}
_EXPECTED_ENCODING = "UTF-8 or ISO-8859-1, as declared in the XML declaration (UTF-8 when none is declared)"
_UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16",
              b"\xfe\xff": "UTF-16"}
_DECLARATION_RE = re.compile(rb"<\?xml[ \t\r\n][^>]*?\?>")
_ENCODING_RE = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')""")
_PROLOG_MARKUP = ((b"<!--", b"-->"), (b"<?", b"?>"))
_POSITION_SUFFIX_RE = re.compile(r", line [0-9]+, column [0-9]+$")
_BIG_LINES = 65_535
_MARKUP_RE = re.compile(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<([^!?/])", re.S)
_ROOT_TAG = f"{NS}{ROOT}"
_PRESCRIPTION_TAG = f"{NS}{PRESCRIPTION}"


class Lines:
    """Source lines of elements, exact everywhere.

    libxml2 keeps a node's line in 16 bits: from 65,535 on, lxml derives it from neighbouring text nodes and is
    often one line out (a 5,000-prescription export runs to 150,000 lines). Past that point the start tags are
    counted in the source instead, once per document and only when an issue needs it.
    """

    __slots__ = ("_exact", "_payload", "_root")

    def __init__(self, payload: bytes, root: etree._Element) -> None:
        self._payload = payload
        self._root = root
        self._exact: dict[etree._Element, int] | None = None

    def __call__(self, element: etree._Element) -> int:
        line: int = element.sourceline or 0
        if line < _BIG_LINES:
            return line
        if self._exact is None:
            self._exact = dict(zip(self._root.iter(), _start_tag_lines(self._payload), strict=False))
        return self._exact.get(element, line)


def _start_tag_lines(payload: bytes) -> Iterator[int]:
    """The line of each start tag in document order: the k-th is the k-th element of the parsed tree.

    Comments, CDATA sections and processing instructions are skipped; `<` cannot occur anywhere else but in
    markup. (The parser dropped comments and PIs from the tree, and a DOCTYPE never gets this far.)
    """
    line, last = 1, 0
    for m in _MARKUP_RE.finditer(payload):
        if m.group(1) is None:
            continue
        line += payload.count(b"\n", last, m.start())
        last = m.start()
        yield line


@dataclass(frozen=True, slots=True)
class Document:
    """A well-formed export with the right root: the root, its Prescription elements, and their source lines."""

    root: etree._Element
    prescriptions: list[etree._Element]
    line: Lines


def load(payload: bytes) -> tuple[Document | None, list[Issue]]:
    """The parsed document, or None and the one issue that rejects it as a whole."""
    problem = _check_bytes(payload)
    if problem is None:
        try:
            root = etree.fromstring(payload, _parser())
        except etree.XMLSyntaxError as exc:
            return None, [_syntax_issue(exc)]
        lines = Lines(payload, root)
        problem = _check_root(root) or _check_crowding(root, lines)
        if problem is None:
            prescriptions = [child for child in root if child.tag == _PRESCRIPTION_TAG]
            problem = _check_count(root, len(prescriptions), len(root) - len(prescriptions))
            if problem is None:
                return Document(root, prescriptions, lines), []
    return None, [problem]


def _parser() -> etree.XMLParser:
    # A parser per document: lxml parsers must not be shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, collect_ids=False, remove_comments=True, remove_pis=True)


def _check_bytes(payload: bytes) -> Issue | None:
    if len(payload) > MAX_BYTES:
        return codes.located(codes.TOO_LARGE, f"the document is {len(payload):,} bytes, more than the "
                             f"{MAX_BYTES:,} (20 MB) allowed", line=None, value=str(len(payload)),
                             expected=f"at most {MAX_BYTES:,} bytes")
    for bom, name in _WIDE_BOMS.items():
        if payload.startswith(bom):
            return _encoding_issue(f"the document is {name} (it starts with a {name} byte-order mark)", name)
    if payload[:2] in (b"<\x00", b"\x00<"):
        return _encoding_issue("the document is UTF-16 without a byte-order mark", "UTF-16")
    body = payload.removeprefix(_UTF8_BOM)
    encoding, problem = _declared_encoding(body, bom=len(body) < len(payload))
    if problem is not None:
        return problem
    if encoding == "UTF-8":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = body.count(b"\n", 0, exc.start) + 1
            column = exc.start - body.rfind(b"\n", 0, exc.start)
            byte = f"0x{body[exc.start]:02X}"
            return codes.located(codes.INVALID_ENCODING, f"byte {byte} at column {column} is not valid UTF-8 (the "
                                 "document is UTF-8: it declares it, or declares no encoding)", line=line,
                                 value=byte, expected=_EXPECTED_ENCODING)
    return _check_prolog(body)


def _encoding_issue(message: str, value: str) -> Issue:
    return codes.located(codes.INVALID_ENCODING, message, line=1, value=value, expected=_EXPECTED_ENCODING)


def _declared_encoding(body: bytes, *, bom: bool) -> tuple[str, Issue | None]:
    declaration = _DECLARATION_RE.match(body)
    if declaration is None:
        return "UTF-8", None
    found = _ENCODING_RE.search(declaration.group())
    if found is None:
        return "UTF-8", None
    declared = (found.group(1) or found.group(2) or b"").decode("ascii", "replace")
    encoding = ENCODINGS.get(declared.lower())
    if encoding is None:
        return "", _encoding_issue(f"the XML declaration names the encoding '{declared}'", declared)
    if bom and encoding != "UTF-8":
        return "", _encoding_issue(f"the document starts with a UTF-8 byte-order mark but declares {declared}",
                                   declared)
    return encoding, None


def _check_prolog(body: bytes) -> Issue | None:
    """Refuse a DOCTYPE before lxml reads it: it can only stand in the prolog, among comments and PIs."""
    declaration = _DECLARATION_RE.match(body)
    pos = declaration.end() if declaration else 0
    while True:
        while pos < len(body) and body[pos] in b" \t\r\n":
            pos += 1
        for opener, closer in _PROLOG_MARKUP:
            if body.startswith(opener, pos):
                end = body.find(closer, pos + len(opener))
                if end < 0:
                    return None  # unterminated: lxml reports it with its position
                pos = end + len(closer)
                break
        else:
            break
    if body[pos:pos + 9].upper() != b"<!DOCTYPE":
        return None
    return codes.located(codes.DOCTYPE_FORBIDDEN, "the document declares a DTD (<!DOCTYPE ...>): DTDs and entity "
                         "declarations are refused, never read", line=body.count(b"\n", 0, pos) + 1,
                         value=body[pos:pos + 60].split(b"\n")[0].decode("latin-1"),
                         expected=f"no DOCTYPE: the root element <{ROOT} xmlns=\"{NAMESPACE}\">")


def _syntax_issue(exc: etree.XMLSyntaxError) -> Issue:
    line, column = exc.position if exc.position else (exc.lineno, 0)
    detail = _POSITION_SUFFIX_RE.sub("", (exc.msg or "").strip()).strip()
    if exc.code != etree.ErrorTypes.ERR_RESOURCE_LIMIT:
        return codes.located(codes.NOT_WELL_FORMED, f"the document is not well-formed XML: {detail}",
                             line=line or None, column=column or None, expected="well-formed XML 1.0")
    if "depth" in detail:
        what = "elements are nested more than 256 levels deep"
    elif "Text node" in detail:
        what = "a text node is longer than 10,000,000 characters"
    elif "Buffer size" in detail:
        what = "a start tag, name or attribute value is longer than 10,000,000 characters"
    else:
        what = f"a parser safety limit is exceeded ({detail.split(', try XML_PARSE_HUGE')[0]})"
    return codes.located(codes.RESOURCE_LIMIT, what, line=line or None, column=column or None,
                         expected="at most 256 levels of elements, text nodes of at most 10,000,000 characters")


def _check_root(root: etree._Element) -> Issue | None:
    if root.getroottree().docinfo.doctype:  # the prolog scan makes this unreachable; kept as a second lock
        return codes.located(codes.DOCTYPE_FORBIDDEN, "the document declares a DTD", line=1)
    if root.tag == _ROOT_TAG:
        return None
    tag = root.tag if isinstance(root.tag, str) else ""
    name, namespace = local_name(tag), tag[1:].partition("}")[0] if tag.startswith("{") else ""
    seen = f"{name} in namespace {namespace}" if namespace else f"{name} in no namespace"
    return codes.located(codes.WRONG_ROOT, f"the root element is {seen}: this is not an Ascribe homecare export",
                         line=root.sourceline, path=f"/{name}", value=name,
                         expected=f"{ROOT} in namespace {NAMESPACE}")


def _check_crowding(root: etree._Element, lines: Lines) -> Issue | None:
    """Refuse an element with a flood of attributes or children, before the schema reports each one of them."""
    # The root's own children are counted by _check_count: 5,000 prescriptions are allowed there.
    crowded_parent = f"(//*[{MAX_CHILDREN + 1}][parent::*/parent::*])[1]/.."
    for xpath, what, limit in ((f"(//@*[{MAX_ATTRIBUTES + 1}])[1]/..", "attributes", MAX_ATTRIBUTES),
                               (crowded_parent, "child elements", MAX_CHILDREN)):
        found = root.xpath(xpath)
        if found:
            element = found[0]
            count = len(element.attrib) if what == "attributes" else len(element)
            name = local_name(element.tag)
            return codes.located(codes.RESOURCE_LIMIT, f"element {name} has {count:,} {what}, more than the "
                                 f"{limit:,} accepted on any element", line=lines(element), value=str(count),
                                 expected=f"at most {limit:,} {what} per element")
    return None


def _check_count(root: etree._Element, count: int, others: int) -> Issue | None:
    if others > MAX_CHILDREN:
        return codes.located(codes.RESOURCE_LIMIT, f"the root holds {others:,} elements other than Prescription, "
                             f"more than the {MAX_CHILDREN:,} accepted on any element", line=root.sourceline,
                             path=ROOT_PATH, value=str(others), expected="Prescription elements only")
    if count == 0:
        return codes.located(codes.NO_PRESCRIPTIONS, "the export holds no Prescription element",
                             line=root.sourceline, path=ROOT_PATH, value="0", expected="1 to 5,000 Prescription")
    if count > MAX_PRESCRIPTIONS:
        return codes.located(codes.TOO_MANY_PRESCRIPTIONS, f"the export holds {count:,} prescriptions, more than "
                             f"the {MAX_PRESCRIPTIONS:,} allowed in one document", line=root.sourceline,
                             path=ROOT_PATH, value=str(count), expected="1 to 5,000 Prescription")
    return None
