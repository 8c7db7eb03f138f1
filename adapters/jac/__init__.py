"""The JAC-style homecare CSV export adapter (shared/specs/jac-homecare-export.md, v1.2)."""

from adapters.jac.parser import JacAdapter
from adapters.jac.writer import render_export

__all__ = ["JacAdapter", "render_export"]
