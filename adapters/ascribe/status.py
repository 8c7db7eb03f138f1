"""The Ascribe-style status feed (XML, `schema/homecare-status-1.xsd`): status back to a trust in its own format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from gateway.lifecycle.status_feed import FeedPage

NAMESPACE = "urn:ascribe:homecare:status:1"
MEDIA_TYPE = "application/xml"
SCHEMA_PATH = Path(__file__).with_name("schema") / "homecare-status-1.xsd"
_HC = f"{{{NAMESPACE}}}"


def render_ascribe_status(page: FeedPage) -> bytes:
    """One StatusFeed document for a page of the feed; valid against SCHEMA_PATH."""
    root = etree.Element(_HC + "StatusFeed", nsmap={"hc": NAMESPACE})
    root.set("trustOds", page.trust_ods)
    root.set("nextCursor", page.next_cursor)
    root.set("hasMore", "true" if page.has_more else "false")
    for e in page.events:
        event = etree.SubElement(root, _HC + "Event", id=str(e.event_id), at=e.at.isoformat())
        etree.SubElement(event, _HC + "Prescription", id=e.rx_number, version=str(e.rx_version),
                         shortFormId=e.short_form_id)
        etree.SubElement(event, _HC + "Kind").text = e.kind
        if e.status_code:
            etree.SubElement(event, _HC + "Status", code=e.status_code).text = e.status_display or ""
        if e.delivery_state:
            etree.SubElement(event, _HC + "DeliveryState").text = e.delivery_state
        if e.provider_ods:
            etree.SubElement(event, _HC + "Provider", ods=e.provider_ods)
        if e.actor_ods:
            etree.SubElement(event, _HC + "Actor", ods=e.actor_ods)
        if e.message_id:
            etree.SubElement(event, _HC + "MessageId").text = e.message_id
        if e.detail:
            etree.SubElement(event, _HC + "Detail").text = e.detail
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def status_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))
