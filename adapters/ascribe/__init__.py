"""The Ascribe-style homecare XML export adapter (shared/specs/ascribe-homecare-export.md, v2.0).

The XML Schema it validates against ships in `schema/homecare-export-2.xsd`.
"""

from adapters.ascribe.parser import AscribeAdapter
from adapters.ascribe.schema import schema_source
from adapters.ascribe.writer import render_export

__all__ = ["AscribeAdapter", "render_export", "schema_source"]
