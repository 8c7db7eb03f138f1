"""Choosing an output format by the name a caller asked for (the status feed's and the KPIs' `format=`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from gateway.errors import InputError, Issue, Location

F = TypeVar("F")


def pick_format(formats: Mapping[str, F], name: str | None, *, unavailable: str) -> F:
    """The format called `name` (json when none is asked for), or a located FORMAT_NOT_AVAILABLE.

    `unavailable` starts the error message, e.g. "the status feed is not available as"; the name asked for follows.
    """
    wanted = (name or "json").strip().lower()
    found = formats.get(wanted)
    if found is None:
        raise InputError(
            [
                Issue(
                    code="FORMAT_NOT_AVAILABLE",
                    message=f"{unavailable} {wanted[:20]!r}",
                    location=Location(path="format"),
                    value=(name or "")[:40],
                    expected="one of " + ", ".join(sorted(formats)),
                )
            ]
        )
    return found
