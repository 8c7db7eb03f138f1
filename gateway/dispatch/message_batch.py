"""FHIR `batch` of `$process-message` requests: many messages in one HTTP request, each answered on its own.

A provider acknowledging hundreds of orders sends `POST /FHIR/R4` with a Bundle of type `batch` whose entries
are `POST $process-message` requests, each carrying one message. Every entry is checked exactly as the single
`$process-message` checks it (JSON shape, homecare profile, sender = caller); the acknowledgements among them
are then applied together in one transaction (`acknowledgements.apply_acknowledgements`), and any other
message (a dispense notification, say) runs through `process_message` on its own. One refused entry refuses
that entry only. See docs/delivery.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

from gateway.context import Gateway
from gateway.delivery import acknowledgements
from gateway.dispatch.process_message import MessageResult, acknowledgement_of, check_provider_message, process_message
from gateway.domain.principal import Principal
from gateway.errors import GatewayError, InputError, Issue, Location
from gateway.fhir.inbound import fail, read_message
from gateway.fhir.serialise import dumps_bundle

# Entries per batch: a batch is one transaction and one answer, so it stays bounded.
MAX_ENTRIES: Final = 1000
OPERATION: Final = "$process-message"


@dataclass(frozen=True, slots=True)
class _PendingAck:
    index: int
    message_id: str
    ack: acknowledgements.Ack


async def process_batch(gw: Gateway, principal: Principal, batch: Any) -> list[MessageResult | GatewayError]:
    """One result per entry of a FHIR batch Bundle, in entry order: what the entry did, or why it was refused.

    Raises InputError (nothing applied) only when the Bundle itself is not a usable batch.
    """
    entries = _entries(batch)
    results: list[MessageResult | GatewayError | None] = [None] * len(entries)
    pending: list[_PendingAck] = []
    others: list[tuple[int, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        try:
            message = _message(index, entry)
            try:
                header, resources = read_message(message)
                ack = acknowledgement_of(header, resources)
                if ack is not None:
                    check_provider_message(principal, message, header)
            except InputError as exc:
                raise _relocate(index, exc) from exc
            if ack is None:
                others.append((index, message))  # not an acknowledgement: applied on its own below
                continue
            pending.append(_PendingAck(index, header.id, ack))
        except GatewayError as exc:
            results[index] = exc
    if pending:
        outcomes = await acknowledgements.apply_acknowledgements(gw, principal, [p.ack for p in pending])
        for p, outcome in zip(pending, outcomes, strict=True):
            results[p.index] = outcome.error or MessageResult("acknowledgement", p.message_id, outcome.applied)
    for index, message in others:
        try:
            try:
                raw = dumps_bundle(message)
            except ValueError as exc:  # NaN or Infinity: JSON has no such numbers
                raise fail(f"Bundle.entry[{index}].resource", f"not valid JSON: {exc}", code="INVALID_JSON") from exc
            results[index] = await process_message(gw, principal, raw)
        except InputError as exc:
            results[index] = _relocate(index, exc)
        except GatewayError as exc:
            results[index] = exc
    return [r if r is not None else GatewayError("entry not processed") for r in results]


def _entries(batch: Any) -> list[Any]:
    if not isinstance(batch, dict) or batch.get("resourceType") != "Bundle":
        raise fail("Bundle", "the body must be a FHIR Bundle of type batch", code="INVALID_RESOURCE")
    if batch.get("type") != "batch":
        raise fail("Bundle.type", "Bundle.type must be batch", value=batch.get("type"), expected="batch")
    entries = batch.get("entry", [])
    if not isinstance(entries, list):
        raise fail("Bundle.entry", "Bundle.entry must be an array", code="INVALID_VALUE")
    if len(entries) > MAX_ENTRIES:
        raise fail(
            "Bundle.entry",
            "too many entries in one batch",
            code="TOO_MANY_ENTRIES",
            value=len(entries),
            expected=f"at most {MAX_ENTRIES}",
        )
    return entries


def _message(index: int, entry: Any) -> dict[str, Any]:
    """The message an entry carries, after checking that it asks for `POST $process-message`."""
    path = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict):
        raise fail(path, "a batch entry must be an object", code="INVALID_VALUE")
    request = entry.get("request")
    if not isinstance(request, dict):
        raise fail(f"{path}.request", "the entry's request is required", code="MISSING_VALUE")
    if request.get("method") != "POST":
        raise fail(f"{path}.request.method", "only POST is supported", value=request.get("method"), expected="POST")
    url = request.get("url")
    target = url.split("?", 1)[0].rstrip("/") if isinstance(url, str) else ""
    if target not in (OPERATION, f"/{OPERATION}") and not target.endswith(f"/FHIR/R4/{OPERATION}"):
        raise fail(
            f"{path}.request.url",
            "only $process-message is supported in a batch",
            code="NOT_SUPPORTED",
            value=url,
            expected=OPERATION,
        )
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        raise fail(f"{path}.resource", "the entry's message Bundle is required", code="MISSING_VALUE")
    return resource


def _relocate(index: int, exc: InputError) -> InputError:
    prefix = f"Bundle.entry[{index}].resource"

    def moved(issue: Issue) -> Issue:
        path = issue.location.path
        if path is None or not (path == "Bundle" or path.startswith(("Bundle.", "Bundle["))):
            path = prefix if path is None else f"{prefix} ({path})"
        else:
            path = prefix + path[len("Bundle") :]
        return dataclasses.replace(issue, location=Location(issue.location.line, issue.location.column, path))

    relocated = type(exc)([moved(i) for i in exc.issues])
    return relocated
