"""The `Prefer` request header (RFC 7240): only `wait=N` is read, for the `$release` long-poll."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.limits import whole_number


def prefer_wait(values: Iterable[str]) -> int | None:
    """Seconds asked for by `Prefer: wait=N` across every Prefer header, or None.

    Preferences are hints (RFC 7240 §2): one the gateway cannot read is ignored rather than refused.
    """
    for value in values:
        for preference in value.split(","):
            token, _, rest = preference.partition("=")
            if token.strip().lower() != "wait":
                continue
            seconds = rest.split(";", 1)[0].strip().strip('"')
            wait = whole_number(seconds)
            if wait is not None:
                return wait
    return None
