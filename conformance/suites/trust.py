"""The trust suite: what a trust system produces, from a file (offline) or sent live to the suite's listener.

File mode (`--target file:PATH`, or `hgw conformance check-file PATH`) and live mode (`--target
listen://HOST:PORT`: the suite prints a base URL carrying a correlation token, the trust system posts an export
or a FHIR message under it, and the suite checks what arrives within `--timeout`) run the same payload checks,
with the adapters the gateway itself uses: every error located (line/column, XPath, HL7 field, FHIRPath) and
traced to a requirement.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adapters.base import ParseResult
from adapters.registry import adapter_for
from conformance.context import SuiteContext
from conformance.errors import UsageError
from conformance.gateway_answers import answer_export
from conformance.listener import Answer, Arrival, Listener, listening, parse_listen
from conformance.model import Suite, TestRun
from conformance.requirements import requirement_for_issue
from gateway.validator import Validator, eps_acceptance

SUITE = Suite("trust", "Homecare Gateway conformance: trust system")
live = SUITE.group("TRU-LIVE", "A trust system sending to the suite")
payload_group = SUITE.group("TRU-FILE", "The export or message itself")

MEDIA_BY_SUFFIX = {
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".hl7": "x-application/hl7-v2+er7",
    ".er7": "x-application/hl7-v2+er7",
    ".json": "application/fhir+json",
}
HOMECARE_PRESCRIPTION_ORDER = "https://fhir.homecaregateway.uk/StructureDefinition/HomecarePrescriptionOrder"
PLACEHOLDER_PROVIDER = "VNFKT"
"""Bundles are built for a prescription naming no provider as if the routing rules had chosen this one."""


def mode_of(target: str) -> str:
    if target.startswith("listen://"):
        parse_listen(target)
        return "live"
    if target.startswith("file:"):
        return "file"
    raise UsageError(f"--target must be listen://HOST:PORT or file:PATH, not {target!r}")


def file_path(target: str) -> Path:
    parts = urlsplit(target)
    return Path(parts.path if parts.netloc in ("", "localhost") else f"//{parts.netloc}{parts.path}")


def sniff_media_type(path: Path, data: bytes) -> str:
    """The media type of a trust file: by its suffix, else by its first bytes."""
    if path.suffix.lower() in MEDIA_BY_SUFFIX:
        return MEDIA_BY_SUFFIX[path.suffix.lower()]
    head = data.lstrip(b"\xef\xbb\xbf \r\n\t\x0b")[:4]
    if head[:3] in (b"MSH", b"FHS", b"BHS"):
        return "x-application/hl7-v2+er7"
    if head.startswith(b"<"):
        return "application/xml"
    if head.startswith(b"{"):
        return "application/fhir+json"
    return "text/csv"


@contextlib.asynccontextmanager
async def session(ctx: SuiteContext, mode: str) -> AsyncIterator[None]:
    if mode == "file":
        path = file_path(ctx.target)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc}") from exc
        media = str(ctx.options.get("content_type") or sniff_media_type(path, data))
        ctx.state.update(payload=data, media_type=media, source=str(path))
        yield
        return
    host, port = parse_listen(ctx.target)
    token = "cf-" + secrets.token_hex(6)
    listener = Listener(TrustInbox(token), ctx.recorder)
    async with listening(listener, host, port) as url:
        ctx.state.update(listener=listener, token=token, base_url=f"{url}/{token}")
        ctx.out(
            f"conformance endpoint for the trust system: {url}/{token} (correlation token {token}): post an "
            f"export to {url}/{token}/api/v1/exports or a FHIR message to {url}/{token}/FHIR/R4/$process-message "
            f"within {ctx.timeout:g} s"
        )
        yield


class TrustInbox:
    """Answers a trust system like the gateway would (the offline ingest result), or issues it a token."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def __call__(self, arrival: Arrival) -> Answer:
        path = arrival.path.rstrip("/")
        if path.endswith("/oauth2/token") and arrival.method == "POST":
            body = {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 3600}
            return Answer(200, json.dumps(body).encode(), "application/json")
        if arrival.method != "POST" or not path.endswith(("/api/v1/exports", "/FHIR/R4/$process-message")):
            return Answer(404, b'{"error": "not served by the conformance endpoint"}', "application/json")
        content_type = arrival.headers.get("content-type", "")
        status, result = await answer_export(arrival.body, content_type, PLACEHOLDER_PROVIDER)
        return Answer(status, json.dumps(result).encode(), "application/json")


def _correlated(token: str) -> Any:
    def accept(arrival: Arrival) -> bool:
        if arrival.method != "POST" or arrival.path.rstrip("/").endswith("/oauth2/token"):
            return False
        return arrival.path.startswith(f"/{token}/") or arrival.headers.get("x-correlation-token") == token

    return accept


@live.test(
    "TRU-LIVE-001",
    "The trust system sends with the correlation token in time",
    requirements=["TRU-LIVE-1"],
    modes=["live"],
)
async def received(ctx: SuiteContext, t: TestRun) -> None:
    listener: Listener = ctx.state["listener"]
    arrival = t.require_value(
        await listener.wait_for(_correlated(ctx.state["token"]), ctx.timeout),
        "TRU-LIVE-1",
        f"nothing arrived under {ctx.state['base_url']} within {ctx.timeout:g} s",
        ctx.state["base_url"],
    )
    ctx.state.update(
        payload=arrival.body, media_type=arrival.headers.get("content-type", ""), arrival=arrival, source=arrival.path
    )


@live.test(
    "TRU-LIVE-002",
    "Content-Type and credentials",
    requirements=["TRU-LIVE-2", "TRU-LIVE-3"],
    depends=["TRU-LIVE-001"],
    modes=["live"],
)
async def headers(ctx: SuiteContext, t: TestRun) -> None:
    arrival: Arrival = ctx.state["arrival"]
    media = arrival.headers.get("content-type", "").split(";")[0].strip().lower()
    t.check(
        adapter_for(media) is not None,
        "TRU-LIVE-2",
        f"Content-Type {media!r} is not one the gateway accepts",
        "Content-Type",
    )
    if arrival.path.endswith("$process-message"):
        t.check(media == "application/fhir+json", "TRU-LIVE-2", f"a FHIR message sent as {media!r}", "Content-Type")
    t.check(
        arrival.headers.get("authorization", "").lower().startswith("bearer "),
        "TRU-LIVE-3",
        "no bearer token",
        "Authorization",
    )


def _parsed(ctx: SuiteContext, t: TestRun) -> ParseResult:
    if "payload" not in ctx.state:
        t.skip("no payload (nothing was received)")
    if "parsed" not in ctx.state:
        adapter = t.require_value(
            adapter_for(ctx.state["media_type"]),
            "TRU-FMT-1",
            f"no adapter for Content-Type {ctx.state['media_type']!r}",
            "Content-Type",
        )
        ctx.state["parsed"] = adapter.parse(ctx.state["payload"])
    result: ParseResult = ctx.state["parsed"]
    return result


def _finding(t: TestRun, issue: Any, *, file_level: bool, rx: str | None = None) -> None:
    if issue.severity not in ("error", "fatal"):
        return
    value = (
        f" (value {issue.value!r}" + (f", expected {issue.expected})" if issue.expected else ")")
        if issue.value is not None
        else ""
    )
    prefix = f"{rx}: " if rx else ""
    t.check(
        False,
        requirement_for_issue(issue.code, file_level=file_level),
        f"{prefix}{issue.code}: {issue.message}{value}",
        issue.location.describe(),
    )


@payload_group.test("TRU-FILE-001", "A supported format, well formed", requirements=["TRU-FMT-1"])
async def well_formed(ctx: SuiteContext, t: TestRun) -> None:
    result = _parsed(ctx, t)
    t.note(f"{ctx.state['source']}: {result.format}, {len(result.prescriptions)} prescription(s)")
    for issue in result.file_issues:
        _finding(t, issue, file_level=True)
    t.check(bool(result.prescriptions) or result.file_rejected, "TRU-FMT-1", "no prescription in the payload", "file")


@payload_group.test(
    "TRU-FILE-002",
    "Every prescription is valid: identifiers, codes, required fields",
    requirements=["TRU-ID-NHS", "TRU-ID-SFID", "TRU-ID-DMD", "TRU-RX-1"],
)
async def prescriptions_valid(ctx: SuiteContext, t: TestRun) -> None:
    result = _parsed(ctx, t)
    if result.file_rejected:
        t.skip("the file itself is rejected (TRU-FILE-001)")
    for parsed in result.prescriptions:
        for issue in parsed.issues:
            _finding(t, issue, file_level=False, rx=f"{parsed.rx_number} v{parsed.rx_version}")


@payload_group.test(
    "TRU-FILE-003", "Accepted prescriptions map to valid prescription-order bundles", requirements=["TRU-RX-2"]
)
async def maps_to_valid_bundles(ctx: SuiteContext, t: TestRun) -> None:
    """The bundles are the gateway's own (`hgw simulate answer-export --bundles`, organisations stood in); each is
    judged by the validator and EPS's acceptance rules. A prescription the adapter read but the gateway could not
    map (items EPS cannot carry as one prescription, units that are not dm+d) fails with the gateway's reasons."""
    result = _parsed(ctx, t)
    read = {(p.rx_number, str(p.rx_version)) for p in result.prescriptions if p.accepted and p.prescription}
    if not read:
        t.skip("no prescription to map")
    payload, media_type = ctx.state["payload"], ctx.state["media_type"]
    _status, answer = await answer_export(payload, media_type, PLACEHOLDER_PROVIDER, bundles=True)
    validator = Validator.from_package()
    for outcome in answer.get("outcomes", []):
        if outcome.get("action") != "NEW" or (outcome.get("ref"), str(outcome.get("version"))) not in read:
            continue
        where = f"line(s) {outcome.get('lines')}"
        bundle = outcome.get("bundle")
        if bundle is None:
            for error in outcome.get("errors", []):
                t.check(False, "TRU-RX-2", f"{outcome['ref']}: {error.get('code')}: {error.get('message')}", where)
            continue
        for issue in [*validator.validate(bundle, HOMECARE_PRESCRIPTION_ORDER), *eps_acceptance(bundle)]:
            if issue.severity in ("error", "fatal"):
                t.check(
                    False,
                    "TRU-RX-2",
                    f"{outcome['ref']}: {issue.code}: {issue.message}",
                    f"{where} → {issue.location.describe()}",
                )


@payload_group.test(
    "TRU-FILE-004",
    "A FHIR message validates against fhir_profiles",
    requirements=["TRU-FHIR-1", "TRU-ID-NHS", "TRU-ID-SFID"],
)
async def fhir_valid(ctx: SuiteContext, t: TestRun) -> None:
    if "payload" not in ctx.state:
        t.skip("no payload (nothing was received)")
    if ctx.state["media_type"].split(";")[0].strip().lower() != "application/fhir+json":
        t.skip("not a FHIR payload")
    try:
        resource = json.loads(ctx.state["payload"])
    except ValueError as exc:
        t.fail("TRU-FHIR-1", f"not JSON: {exc}", "body")
    for issue in Validator.from_package().validate(resource):
        if issue.severity in ("error", "fatal"):
            t.check(
                False,
                requirement_for_issue(issue.code)
                if issue.code in ("INVALID_NHS_NUMBER", "INVALID_SHORT_FORM_ID")
                else "TRU-FHIR-1",
                f"{issue.code}: {issue.message}",
                issue.location.describe(),
            )
