"""Fixtures for the Ascribe adapter tests: the adapter on the frozen clock, the spec's example and a way to edit it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from adapters.ascribe import AscribeAdapter

DATA = Path(__file__).parents[3] / "data" / "ascribe"
NAMESPACES = {"a": "urn:ascribe:homecare:export:2"}
# An edit of a document: (xpath, attribute or None for the element's text, new value or None to remove).
Edit = tuple[str, str | None, str | None]


@pytest.fixture(scope="session")
def ascribe(frozen_now: datetime) -> AscribeAdapter:
    return AscribeAdapter(clock=lambda: frozen_now)


@pytest.fixture(scope="session")
def spec_example() -> bytes:
    """The spec's example document, with a real dm+d code (shared/reference/dmd-subset.csv)."""
    return (DATA / "valid_spec_example" / "input.xml").read_bytes()


def edit_document(payload: bytes, *edits: Edit) -> bytes:
    """`payload` with each edit applied: set or remove an attribute, set an element's text, or remove the element.

    XPaths use the prefix `a` for the export's namespace (`//a:Supply`); every match is edited.
    """
    root = etree.fromstring(payload)
    for xpath, attribute, value in edits:
        matches = root.xpath(xpath, namespaces=NAMESPACES)
        assert matches, f"{xpath} matches nothing"
        for element in matches:
            if attribute is not None and value is None:
                del element.attrib[attribute]
            elif attribute is not None:
                element.set(attribute, value)
            elif value is None:
                element.getparent().remove(element)
            else:
                element.text = value
    declaration = payload.split(b"?>", 1)[0] + b"?>\n" if payload.startswith(b"<?xml") else b""
    encoding = "ISO-8859-1" if b"ISO-8859-1" in declaration else "UTF-8"
    return declaration + etree.tostring(root, encoding=encoding, xml_declaration=False)


@pytest.fixture(scope="session")
def edit(spec_example: bytes) -> Callable[..., bytes]:
    """Edits of the spec's example (or of another document given as `payload=`)."""

    def apply(*edits: Edit, payload: bytes | None = None) -> bytes:
        return edit_document(spec_example if payload is None else payload, *edits)

    return apply
