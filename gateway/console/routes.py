"""The console's routes (gateway.console.pages), under /console, for the app factory to include."""

from __future__ import annotations

from gateway.console.pages import router

__all__ = ["router"]
