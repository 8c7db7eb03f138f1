"""The formats the status feed is served in, by the `format` query parameter.

A format is a name, a media type and a pure function from a `FeedPage` to bytes. `json`, `csv` (the
JAC-style status CSV), `xml` (the Ascribe-style status XML) and `hl7v2` (OSU^O51 messages) are built in;
another renderer plugs in with `register_status_format`.

A name that is not registered answers a located FORMAT_NOT_AVAILABLE error (HTTP 400), never a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from adapters.ascribe.status import MEDIA_TYPE as ASCRIBE_STATUS_MEDIA_TYPE
from adapters.ascribe.status import render_ascribe_status
from adapters.hl7v2.status import MEDIA_TYPE as HL7_STATUS_MEDIA_TYPE
from adapters.hl7v2.status import render_hl7_status
from adapters.jac.status import MEDIA_TYPE as JAC_STATUS_MEDIA_TYPE
from adapters.jac.status import render_jac_status
from gateway.domain.output_formats import pick_format
from gateway.lifecycle.status_feed import FeedPage

Render = Callable[[FeedPage], bytes]

_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")


@dataclass(frozen=True, slots=True)
class StatusFormat:
    name: str
    media_type: str
    render: Render


def render_json(page: FeedPage) -> bytes:
    return json.dumps(page.as_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


FORMATS: dict[str, StatusFormat] = {
    "json": StatusFormat("json", "application/json", render_json),
    "csv": StatusFormat("csv", JAC_STATUS_MEDIA_TYPE, render_jac_status),
    "xml": StatusFormat("xml", ASCRIBE_STATUS_MEDIA_TYPE, render_ascribe_status),
    "hl7v2": StatusFormat("hl7v2", HL7_STATUS_MEDIA_TYPE, render_hl7_status),
}


def register_status_format(name: str, media_type: str, render: Render) -> None:
    """Serve `GET /api/v1/status-feed?format=<name>` as `media_type`, rendered by `render`.

    Registering a name again replaces its renderer. `render` must be pure: the page in, the body out.
    """
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"a status format name is lower-case letters, digits and '-': {name!r}")
    FORMATS[name] = StatusFormat(name, media_type, render)


def status_format(name: str | None) -> StatusFormat:
    """The registered format called `name` (json when none is asked for), or a located FORMAT_NOT_AVAILABLE."""
    return pick_format(FORMATS, name, unavailable="the status feed is not available as")
