"""`hgw ingest`: parse an export and build its bundles without a database, one outcome per prescription.

What leaves is one document, the command's contract (docs/cli.md):

    {"format": "jac", "outcomes": [{"ref", "version", "action", "outcome": "accepted"|"rejected",
     "errors": [{"location", "field", "value", "expected", "message", "code"}], "warnings": [...], "bundle"}],
     "file_errors": [...]}

An outcome of more than four items also has "parts": the order of every part the gateway would send (the EPS
limit, gateway/intake/parts.py), `bundle` being the first; so has a CANCEL of more than one item: its
prescription-order-update messages, one per line item (EPS cancels one line per message).

`exit_code` gives 0 when every prescription was accepted, 1 when any was rejected, 2 when the file as a whole was.
Without a database there is no earlier version to compare with: a NEW line gives its prescription-order, an AMEND
the order of its new version, a CANCEL the prescription-order-update messages it stands for (one per line item);
each says (a warning) what only the running gateway checks. A line that cannot be built is rejected on its own,
never the file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import ParsedPrescription, ParseResult
from adapters.registry import adapter_for, registered_adapters
from gateway.domain.directory import Directory
from gateway.domain.model import Action, HomecarePrescription
from gateway.errors import GatewayError, InputError, Issue, Location
from gateway.fhir.cancellation import build_cancellations
from gateway.fhir.dispense_schedule import schedule_issues
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.intake.parts import split
from gateway.intake.planning import located
from gateway.settings import Settings
from gateway.store import directory as store_directory
from gateway.store.db import engine_for, is_sqlite, session_factory
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER, HOMECARE_PRESCRIPTION_ORDER_UPDATE
from gateway.validator.validator import Validator

FORMATS = ("jac", "ascribe", "hl7v2", "fhir")
SOURCE_ENDPOINT = "urn:hgw:offline"
_BY_SUFFIX = {".csv": "jac", ".xml": "ascribe", ".hl7": "hl7v2", ".er7": "hl7v2", ".json": "fhir"}
_OFFLINE_ONLY = {
    Action.AMEND: "offline: the version this AMEND replaces is not checked; the gateway cancels it first",
    Action.CANCEL: "offline: the ids are new; the gateway cancels with the original order's ids, once it holds "
    "the version named",
}
_CANCEL_ONLY = (
    "offline: this CANCEL names its prescription but does not repeat it (or its provider); the gateway builds "
    "the prescription-order-update from the order it holds"
)


def detect_format(path: Path, payload: bytes) -> str:
    """The format a file is in, from its name, else from its first bytes (`--format` overrides both)."""
    by_name = _BY_SUFFIX.get(path.suffix.lower())
    if by_name:
        return by_name
    head = payload.lstrip(b"\xef\xbb\xbf \t\r\n")[:3]
    if head.startswith(b"{"):
        return "fhir"
    if head.startswith(b"<"):
        return "ascribe"
    if head == b"MSH" or head.startswith(b"\x0b"):
        return "hl7v2"
    return "jac"


def format_for(media_type: str) -> str:
    """The format of a Content-Type (parameters ignored); InputError naming the ones taken."""
    adapter = adapter_for(media_type)
    if adapter is None:
        taken = sorted(t for a in registered_adapters().values() for t in a.media_types)
        issue = Issue("UNSUPPORTED_MEDIA_TYPE", f"no adapter accepts Content-Type {media_type!r}",
                      Location(path="Content-Type"), value=media_type, expected=" | ".join(taken))  # fmt: skip
        raise InputError([issue])
    return adapter.name


def ingest_offline(
    payload: bytes, fmt: str, *, directory: Directory, provider_ods: str | None = None
) -> dict[str, Any]:
    """Per prescription: the validated bundle, or every located error; file-level errors reject everything.

    `directory` is the trust's configured organisations and team contact: the same EPS needs as a live export."""
    adapter = registered_adapters().get(fmt)
    if adapter is None:
        raise InputError([Issue("UNKNOWN_FORMAT", f"no adapter for format {fmt!r}", value=fmt,
                                expected=" | ".join(FORMATS))])  # fmt: skip
    result: ParseResult = adapter.parse(payload)
    outcomes = (
        []
        if result.file_rejected
        else [_outcome(pp, fmt, payload, provider_ods, directory) for pp in result.prescriptions]
    )
    return {
        "format": result.format,
        "outcomes": outcomes,
        "file_errors": [error_dict(i) for i in result.file_issues if _is_error(i)],
        "file_warnings": [error_dict(i) for i in result.file_issues if not _is_error(i)],
    }


def exit_code(document: dict[str, Any]) -> int:
    """0 every prescription accepted, 1 any rejected, 2 the file as a whole rejected."""
    if document["file_errors"]:
        return 2
    return 0 if all(o["outcome"] == "accepted" for o in document["outcomes"]) else 1


def error_dict(issue: Issue) -> dict[str, Any]:
    """One located finding as the contract spells it."""
    where = issue.location
    return {
        "location": where.describe(),
        "field": where.column or where.path,
        "value": issue.value,
        "expected": issue.expected,
        "message": issue.message,
        "code": issue.code,
    }


def _outcome(
    pp: ParsedPrescription, fmt: str, payload: bytes, provider_ods: str | None, directory: Directory
) -> dict[str, Any]:
    p = pp.prescription
    issues = list(pp.issues)
    bundle: dict[str, Any] | None = None
    parts: list[dict[str, Any]] = []
    if p is not None and not pp.errors:
        try:
            bundle = _bundle(p, fmt, payload, provider_ods, directory, pp, issues, parts)
        except GatewayError as exc:  # one prescription that cannot be built does not stop the others
            issues.extend(exc.issues if isinstance(exc, InputError) else [
                Issue("NOT_BUILT", str(exc), Location(line=pp.lines[0] if pp.lines else None))])  # fmt: skip
    rejected = p is None or any(_is_error(i) for i in issues)
    return {
        "ref": pp.rx_number,
        "version": pp.rx_version,
        "action": p.action.value if p is not None else None,
        "lines": pp.lines,
        "outcome": "rejected" if rejected else "accepted",
        "errors": [error_dict(i) for i in issues if _is_error(i)],
        "warnings": [error_dict(i) for i in issues if not _is_error(i)],
        "bundle": None if rejected else bundle,
        # More than four items: the EPS prescriptions the gateway would send, `bundle` being the first.
        **({"parts": parts} if len(parts) > 1 and not rejected else {}),
    }


def _bundle(
    p: HomecarePrescription,
    fmt: str,
    payload: bytes,
    provider_ods: str | None,
    directory: Directory,
    pp: ParsedPrescription,
    issues: list[Issue],
    parts: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """The bundle the gateway would send for `p` (the first part's of a prescription of more than four items,
    every part's then appended to `parts`), adding its findings to `issues`."""
    line = pp.lines[0] if pp.lines else None
    if fmt == "fhir":  # an EPS message goes on unchanged: the bundle is the one sent
        bundle = loads_bundle(payload)
        issues.extend(Validator.from_package().validate(bundle))
        plain: dict[str, Any] = json.loads(dumps_bundle(bundle))  # exact decimals as JSON numbers, as sent
        return plain
    provider = p.provider_ods or provider_ods
    bare_cancel = p.action is Action.CANCEL and (
        p.patient is None or p.prescriber is None or not p.items or provider is None
    )
    if p.action in _OFFLINE_ONLY:
        note = _CANCEL_ONLY if bare_cancel else _OFFLINE_ONLY[p.action]
        issues.append(Issue("NOT_CHECKED_OFFLINE", note, Location(line=line, column="Action"), severity="warning",
                            value=p.action.value))  # fmt: skip
    if bare_cancel:
        return None  # valid as it stands; the provider and ids come from the order the gateway holds
    if provider is None:
        issues.append(Issue("NO_PROVIDER", "no ProviderODS on the prescription and no --provider",
                            Location(line=line, column="ProviderODS")))  # fmt: skip
        return None
    prescribing = directory.prescribing(p.trust_ods, p.site_code)
    if isinstance(prescribing, list) or schedule_issues(p):
        found = (prescribing if isinstance(prescribing, list) else []) + schedule_issues(p)
        issues.extend(located(i, pp.lines) for i in found)
        return None
    if p.action is Action.CANCEL:
        # Built as the gateway builds them from the order it holds: one message per line, cancelled for the reason.
        original = p.model_copy(update={"action": Action.NEW})
        bundles = build_cancellations(
            original,
            OrderIds.new(original),
            p.cancel_reason or "not given",
            provider_ods=provider,
            source_endpoint=SOURCE_ENDPOINT,
            prescribing=prescribing,
        )
        profile = HOMECARE_PRESCRIPTION_ORDER_UPDATE
    else:
        bundles = [
            build_prescription_order(
                piece, OrderIds.new(piece), provider_ods=provider, source_endpoint=SOURCE_ENDPOINT,
                prescribing=prescribing,
            )
            for piece in split(p)
        ]
        profile = HOMECARE_PRESCRIPTION_ORDER
    for bundle in bundles:
        issues.extend(Validator.from_package().validate(bundle, profile))
    parts.extend(json.loads(dumps_bundle(bundle)) for bundle in bundles)
    return parts[0]


def _is_error(issue: Issue) -> bool:
    return issue.severity in ("error", "fatal")


def text_report(document: dict[str, Any]) -> tuple[str, str]:
    """Without --json: the accepted bundles (JSON, one after another) for stdout, the located errors for stderr."""
    bundles = [
        json.dumps(b, indent=2)
        for o in document["outcomes"]
        for b in (o.get("parts") or ([o["bundle"]] if o["bundle"] is not None else []))
    ]
    lines = [f"file rejected: {_line(e)}" for e in document["file_errors"]]
    for o in document["outcomes"]:
        action = f" {o['action']}" if o["action"] else ""  # unknown when the line could not be read
        lines.append(f"{o['ref']} v{o['version']}{action}: {o['outcome']}")
        lines += [f"  error {_line(e)}" for e in o["errors"]]
        lines += [f"  warning {_line(e)}" for e in o["warnings"]]
    return "\n".join(bundles), "\n".join(lines)


def _line(error: dict[str, Any]) -> str:
    detail = [f"value {error['value']!r}" if error["value"] is not None else "",
              f"expected {error['expected']}" if error["expected"] else ""]  # fmt: skip
    extra = "; ".join(d for d in detail if d)
    return f"{error['location']}: {error['message']}" + (f" ({extra})" if extra else "")


def offline_directory(settings: Settings) -> Directory:
    """The organisation directory and team contacts of the configured store, read only; empty when there is no
    store yet (every prescription then says what to configure)."""
    url = settings.effective_database_url
    database = make_url(url).database
    if is_sqlite(url) and (not database or not Path(database).exists()):
        return Directory(organisations={}, contacts={})

    async def load() -> Directory:
        engine = engine_for(settings)
        try:
            async with session_factory(engine)() as session:
                return await store_directory.load_directory(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(load())
    except (OSError, SQLAlchemyError):  # unreachable or not migrated: nothing configured
        return Directory(organisations={}, contacts={})
