"""`hgw ingest`: parse an export and build its bundles without a database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from gateway.domain.directory import Directory
from gateway.errors import Issue, Location
from gateway.fhir.dispense_schedule import schedule_issues
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle
from gateway.services.ingest import parse_payload
from gateway.services.planning import located
from gateway.settings import Settings
from gateway.store import directory as store_directory
from gateway.store.db import create_engine, is_sqlite, session_factory
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER
from gateway.validator.validator import Validator


def ingest_offline(
    payload: bytes,
    content_type: str,
    *,
    directory: Directory,
    provider_ods: str | None = None,
    source_endpoint: str = "urn:hgw:offline",
) -> dict[str, Any]:
    """Per prescription: the validated bundle, or every located error (the same EPS needs as a live export:
    `directory` is the trust's configured organisations and team contact)."""
    result = parse_payload(payload, content_type)
    out: list[dict[str, Any]] = []
    for pp in result.prescriptions:
        entry: dict[str, Any] = {"rx_number": pp.rx_number, "rx_version": pp.rx_version, "lines": pp.lines}
        issues = list(pp.issues)
        p = pp.prescription
        if p is not None and not pp.errors:
            provider = p.provider_ods or provider_ods
            if provider is None:
                issues.append(
                    Issue(
                        code="NO_PROVIDER",
                        message="no ProviderODS on the prescription and no --provider",
                        location=Location(line=pp.lines[0] if pp.lines else None, column="ProviderODS"),
                    )
                )
            elif isinstance(prescribing := directory.prescribing(p.trust_ods, p.site_code), list) or schedule_issues(p):
                found = (prescribing if isinstance(prescribing, list) else []) + schedule_issues(p)
                issues.extend(located(i, pp.lines) for i in found)
            else:
                bundle = build_prescription_order(
                    p, OrderIds.new(p), provider_ods=provider, source_endpoint=source_endpoint, prescribing=prescribing
                )
                issues.extend(Validator.from_package().validate(bundle, HOMECARE_PRESCRIPTION_ORDER))
                entry["bundle"] = json.loads(dumps_bundle(bundle))
        entry["outcome"] = "rejected" if any(i.severity in ("error", "fatal") for i in issues) else "accepted"
        if entry["outcome"] == "rejected":
            entry.pop("bundle", None)
        entry["issues"] = [i.as_dict() for i in issues]
        out.append(entry)
    return {
        "format": result.format,
        "file_rejected": result.file_rejected,
        "file_issues": [i.as_dict() for i in result.file_issues],
        "prescriptions": out,
    }


def offline_directory(settings: Settings) -> Directory:
    """The organisation directory and team contacts of the configured store, read only; empty when there is no
    store yet (every prescription then says what to configure)."""
    url = settings.effective_database_url
    database = make_url(url).database
    if is_sqlite(url) and (not database or not Path(database).exists()):
        return Directory(organisations={}, contacts={})

    async def load() -> Directory:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                return await store_directory.load_directory(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(load())
    except (OSError, SQLAlchemyError):  # unreachable or not migrated: nothing configured
        return Directory(organisations={}, contacts={})
