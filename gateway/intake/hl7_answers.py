"""HL7 v2 answers: the ACK for an ingested payload, and the MLLP listener's handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapters.hl7v2 import reject_payload, render_ack
from gateway.budget import offload, request_budget
from gateway.context import Gateway
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.errors import GatewayError, Issue, Location
from gateway.intake.ingest import ingest_export
from gateway.intake.outcomes import IngestReport

HL7_MEDIA_TYPE = "x-application/hl7-v2+er7"


def ack_for(gw: Gateway, report: IngestReport) -> bytes:
    """The ACK (or batch of ACKs) answering an HL7 payload: AA, AE or AR per message, ERR per issue."""
    if report.ack is not None:
        return report.ack
    if report.parsed is None:
        return b""
    return render_ack(report.parsed, dict(enumerate(report.prescriptions)), now=gw.clock())


def mllp_principal(trust_ods: str) -> Principal:
    """MLLP carries no credentials: a listener acts for the one trust it is configured for (see docs)."""
    return Principal(f"mllp:{trust_ods}", Role.TRUST, trust_ods, frozenset(ROLE_SCOPES[Role.TRUST]))


def mllp_handler(gw: Gateway, trust_ods: str) -> Callable[[bytes], Awaitable[bytes]]:
    principal = mllp_principal(trust_ods)

    async def handle(frame: bytes) -> bytes:
        try:
            with request_budget(gw.settings.request_cpu_seconds):  # a frame is a request: same CPU budget
                report = await ingest_export(gw, principal, frame, HL7_MEDIA_TYPE)
        except GatewayError as exc:
            issue = Issue(code=exc.code, message=str(exc), location=Location(path="MSH"))
            return await offload(reject_payload, frame, issue, now=gw.clock())
        return await offload(ack_for, gw, report)

    return handle
