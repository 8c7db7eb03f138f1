"""The abuse suite (issue 16): hostile requests by parties with valid credentials, over a real loopback server.

Each case asserts the answer (a 4xx with a located error, never a 5xx), a generous time bound, a memory bound (the
growth of this process's peak RSS, server included) and that `/healthz` kept answering while the case ran. The
figures (5xx seen, longest /healthz stall, per case timings) are printed at the end of the module and written to
the file named by HGW_ABUSE_REPORT when it is set. Bounds are generous so that a busy CI machine cannot fail them;
the real figures are in the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from conformance.parties.provider_messages import passed_orders, release_request
from gateway.context import Gateway
from gateway.logs import JsonFormatter
from gateway.security.client_auth import ClientKey, token_request
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.wiring import build_gateway
from tests.conftest import serve
from tests.integration.helpers import export
from tests.paths import DATA

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the gateway, not the database

# Seconds asserted. The server shares this test's event loop (tests/conftest.py `serve`), so a stall here includes the
# test's own client work (signing assertions, reading answers): the server's own latency is measured from another
# process by tests/acceptance/test_serve_under_load.py (2 s asserted). The design target is 0.1 s; see the report.
HEALTHZ_BOUND = 5.0
CASE_BOUND = 120.0  # seconds for any one hostile request to be answered
MEMORY_BOUND_MB = 512  # growth of peak RSS during one case
HL7 = "x-application/hl7-v2+er7"
ORDER = (DATA / "hl7v2" / "valid_order" / "input.hl7").read_bytes().rstrip(b"\r\n")


@dataclass
class Figures:
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    responses_5xx: int = 0
    longest_healthz_stall_ms: float = 0.0
    cross_tenant_attempts: int = 0
    cross_tenant_successes: int = 0
    assertions_forged_or_replayed: int = 0
    assertions_forged_or_replayed_accepted: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "cross_tenant_attempts": self.cross_tenant_attempts,
            "cross_tenant_successes": self.cross_tenant_successes,
            "assertions_forged_or_replayed": self.assertions_forged_or_replayed,
            "assertions_forged_or_replayed_accepted": self.assertions_forged_or_replayed_accepted,
            "responses_5xx": self.responses_5xx,
            "longest_healthz_stall_ms": round(self.longest_healthz_stall_ms, 1),
            "cases": self.cases,
        }


FIGURES = Figures()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[Figures]:
    yield FIGURES
    figures = json.dumps(FIGURES.as_json(), indent=2, sort_keys=True)
    print(f"\nabuse suite figures:\n{figures}")  # noqa: T201 - the suite's report
    target = os.environ.get("HGW_ABUSE_REPORT")
    if target:
        Path(target).write_text(figures)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.asynccontextmanager
async def watched(base_url: str, name: str) -> AsyncIterator[dict[str, Any]]:
    """Poll /healthz every 20 ms while the body runs; record the case's time, memory growth and longest stall."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def poll() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            while not done.is_set():
                started = time.perf_counter()
                r = await client.get("/healthz")
                stalls.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.02)

    poller = asyncio.create_task(poll())
    figures: dict[str, Any] = {}
    rss, started = _peak_rss_mb(), time.perf_counter()
    try:
        yield figures
    finally:
        done.set()
        await poller
    figures |= {
        "seconds": round(time.perf_counter() - started, 2),
        "rss_growth_mb": round(_peak_rss_mb() - rss, 1),
        "healthz_polls": len(stalls),
        "longest_healthz_ms": round(max(stalls) * 1000, 1),
    }
    FIGURES.cases[name] = figures
    FIGURES.longest_healthz_stall_ms = max(FIGURES.longest_healthz_stall_ms, figures["longest_healthz_ms"])
    assert figures["seconds"] < CASE_BOUND, figures
    assert figures["rss_growth_mb"] < MEMORY_BOUND_MB, figures
    assert figures["longest_healthz_ms"] < HEALTHZ_BOUND * 1000, figures


def answered(r: httpx.Response, *statuses: int) -> httpx.Response:
    """`r` has one of `statuses` (tallied: a 5xx is counted for the report before the assertion fails)."""
    if r.status_code >= 500:
        FIGURES.responses_5xx += 1
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-correlation-id"]
    return r


def codes(r: httpx.Response) -> list[str]:
    body = r.json()
    if body.get("resourceType") == "OperationOutcome":
        return [i["details"]["coding"][0]["code"] for i in body["issue"]]
    return [i["code"] for i in body.get("issues", body.get("file_issues", []))]


@dataclass
class Parties:
    base_url: str
    gw: Gateway
    keys: dict[str, ClientKey]
    clients: dict[str, httpx.AsyncClient]


@pytest.fixture
async def parties(gw: Gateway) -> AsyncIterator[Parties]:
    keys = {
        "trust": await register_party(gw, "trust", "RBA"),
        "other_trust": await register_party(gw, "trust", "RHM"),
        "provider": await register_party(gw, "provider", "VNFKT"),
        "other_provider": await register_party(gw, "provider", "VNCEL"),
        "operator": await register_party(gw, "operator", "X26"),
    }
    async with serve(gw) as base_url:
        clients = {name: party_client(base_url, key, timeout=CASE_BOUND) for name, key in keys.items()}
        try:
            yield Parties(base_url, gw, keys, clients)
        finally:
            for client in clients.values():
                await client.aclose()


def nested(depth: int) -> bytes:
    return b'{"resourceType": "Bundle", "entry": ' + b"[" * depth + b"]" * depth + b"}"


# (party, method, path): every endpoint that reads a JSON body.
JSON_ENDPOINTS = [
    ("provider", "POST", "/FHIR/R4/$process-message"),
    ("provider", "POST", "/FHIR/R4"),
    ("provider", "POST", "/FHIR/R4/Task/$release"),
    ("provider", "POST", "/FHIR/R4/Task"),
    ("trust", "PUT", "/FHIR/R4/Task/some-task"),
    ("trust", "POST", "/FHIR/R4/$validate"),
    ("trust", "POST", "/FHIR/R4/Bundle/$validate"),
    ("trust", "POST", "/api/v1/webhooks"),
    ("operator", "POST", "/api/v1/admin/providers"),
    ("operator", "POST", "/api/v1/admin/routes"),
]


async def test_json_nested_1000_deep_is_refused_everywhere_with_a_located_422(parties: Parties) -> None:
    async with watched(parties.base_url, "json_nested_1000_deep"):
        for party, method, path in JSON_ENDPOINTS:
            for depth in (1_000, 100_000):
                r = answered(
                    await parties.clients[party].request(
                        method, path, content=nested(depth), headers={"Content-Type": "application/json"}
                    ),
                    422,
                )
                assert "LIMIT_EXCEEDED" in codes(r), (path, r.text)
                if path.startswith("/FHIR/"):
                    assert r.json()["resourceType"] == "OperationOutcome"


async def test_json_bombs_wide_and_long_numbers_are_refused(parties: Parties) -> None:
    wide = b"[" + b"0," * 2_000_000 + b"0]"  # 4 MB, 2 million items
    huge_number = b'{"resourceType": "Parameters", "parameter": [{"name": "maxCount", "valueInteger": ' + b"9" * 5000
    huge_number += b"}]}"
    async with watched(parties.base_url, "json_bombs"):
        for body in (wide, huge_number):
            r = answered(
                await parties.clients["provider"].post(
                    "/FHIR/R4/Task/$release", content=body, headers={"Content-Type": "application/fhir+json"}
                ),
                422,
            )
            assert "LIMIT_EXCEEDED" in codes(r)


async def test_5000_digit_integers_in_query_strings_are_refused_not_500(parties: Parties) -> None:
    digits = "9" * 5000
    cases = [
        ("trust", f"/api/v1/kpis?ack_target_hours={digits}"),
        ("trust", f"/api/v1/kpis?horizon_days={digits}"),
        ("trust", f"/api/v1/status-feed?limit={digits}"),
        ("operator", f"/api/v1/admin/held?limit={digits}"),
    ]
    async with watched(parties.base_url, "query_integers"):
        for party, path in cases:
            r = answered(await parties.clients[party].get(path), 400, 422)
            assert codes(r), r.text


async def test_console_login_with_300_fields_is_refused_not_500(parties: Parties) -> None:
    form = "&".join(f"field{i}=x" for i in range(300))
    async with (
        watched(parties.base_url, "console_login_300_fields"),
        httpx.AsyncClient(base_url=parties.base_url) as browser,
    ):
        r = answered(
            await browser.post(
                "/console/login", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
            ),
            413,
            422,
        )
        assert "LIMIT_EXCEEDED" in codes(r)


async def test_hl7_export_of_200000_notes_is_answered_quickly_and_stores_no_prescription(parties: Parties) -> None:
    payload = ORDER + b"\r" + b"\r".join(b"NTE|1||note %d" % i for i in range(200_000)) + b"\r"
    async with watched(parties.base_url, "hl7_200000_nte") as figures:
        r = answered(
            await parties.clients["trust"].post("/api/v1/exports", content=payload, headers={"Content-Type": HL7}),
            422,
        )
        figures["payload_mb"] = round(len(payload) / 1e6, 1)
    body = r.json()
    assert body["prescriptions"][0]["issues"][0]["code"] == "TOO_MANY_SEGMENTS"
    assert "MSA|AR|" in body["hl7_ack"] and len(body["hl7_ack"]) < 5_000
    async with parties.gw.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM prescription"))).scalar() == 0


async def test_xml_and_csv_bombs_are_refused(parties: Parties) -> None:
    billion = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10) for i in range(9))
        + b"]><lolz>&lol8;</lolz>"
    )
    deep_xml = b"<a>" * 200_000 + b"</a>" * 200_000
    wide_csv = b",".join(b"c%d" % i for i in range(200_000)) + b"\r\n" + b"x," * 199_999 + b"x\r\n"
    long_field = export(1, seed=3).replace(b"\r\n", b"\r\n" + b"A" * 5_000_000 + b",", 1)
    cases = [
        ("xml_billion_laughs", billion, "application/xml"),
        ("xml_200000_deep", deep_xml, "application/xml"),
        ("csv_200000_columns", wide_csv, "text/csv"),
        ("csv_5mb_field", long_field, "text/csv"),
    ]
    for name, body, media_type in cases:
        async with watched(parties.base_url, name):
            r = answered(
                await parties.clients["trust"].post(
                    "/api/v1/exports", content=body, headers={"Content-Type": media_type}
                ),
                400,
                413,
                422,
            )
            assert r.json()["outcome"] == "rejected" and r.json()["file_issues"], r.text[:300]
    async with parties.gw.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM prescription"))).scalar() == 0


async def test_healthz_stays_up_while_the_heaviest_requests_run(parties: Parties) -> None:
    """An export of many prescriptions (parse, map, validate, sign) and its masked message page, both at once."""
    body = export(400, seed=77)
    async with watched(parties.base_url, "export_400_and_masked_page") as figures:
        r = answered(
            await parties.clients["trust"].post("/api/v1/exports", content=body, headers={"Content-Type": "text/csv"}),
            200,
        )
        message_id = r.json()["prescriptions"][0]["message_id"]
        page = answered(await parties.clients["operator"].get(f"/api/v1/ops/messages/{message_id}"), 200)
        assert page.json()["masked"] is True
        kpis = answered(await parties.clients["operator"].get("/api/v1/kpis"), 200)
        assert kpis.json()
        figures["prescriptions"] = 400


async def test_a_request_over_its_cpu_budget_is_refused_and_stores_no_prescription(settings: Settings) -> None:
    tight = settings.model_copy(update={"request_cpu_seconds": 0.01})
    gw = build_gateway(tight)
    try:
        key = await register_party(gw, "trust", "RBA")
        await configure_sample_directory(gw)  # else every prescription is refused unconfigured, well within budget
        async with serve(gw) as base, party_client(base, key, timeout=CASE_BOUND) as trust:
            async with watched(base, "cpu_budget_0_01s"):
                r = answered(
                    await trust.post(
                        "/api/v1/exports", content=export(1000, seed=5), headers={"Content-Type": "text/csv"}
                    ),
                    422,
                )
            assert "CPU_BUDGET_EXCEEDED" in codes(r), r.text[:300]
        async with gw.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM prescription"))).scalar() == 0
    finally:
        await gw.close()


async def test_an_unexpected_failure_is_a_logged_500_with_security_headers(
    parties: Parties, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway.api.routes import kpis

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug, with patient 9434765919 in its message")

    monkeypatch.setattr(kpis, "build_report", broken)
    lines = Lines()
    http_log = logging.getLogger("gateway.http")
    http_log.addHandler(lines)
    try:
        with caplog.at_level(logging.INFO, logger="gateway.http"):
            r = await parties.clients["trust"].get("/api/v1/kpis", headers={"X-Request-ID": "abuse-500"})
    finally:
        http_log.removeHandler(lines)
    assert r.status_code == 500
    assert r.headers["x-correlation-id"] == "abuse-500" and r.headers["x-frame-options"] == "DENY"
    assert r.json()["error"] == "INTERNAL_ERROR" and "9434765919" not in r.text
    logged = [entry for entry in map(json.loads, lines.lines) if entry.get("correlation_id") == "abuse-500"]
    assert len(logged) == 2, lines.lines
    assert {"level": "error", "error": "RuntimeError", "path": "/api/v1/kpis"}.items() <= logged[0].items(), logged
    assert {"status": 500, "path": "/api/v1/kpis"}.items() <= logged[1].items(), logged
    assert not any("9434765919" in line for line in lines.lines)


class Lines(logging.Handler):
    """The gateway's JSON log lines, as formatted when they are written (correlation id included)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_other_tenants_see_nothing_and_forged_or_replayed_assertions_get_no_token(parties: Parties) -> None:
    """Tallies for the report; each attempt must fail (the full tenancy matrix is tests/integration/test_tenancy.py)."""
    trust, other_trust = parties.clients["trust"], parties.clients["other_trust"]
    other_provider = parties.clients["other_provider"]
    r = answered(
        await trust.post("/api/v1/exports", content=export(3, seed=17), headers={"Content-Type": "text/csv"}), 200
    )
    ids = [p["prescription_id"] for p in r.json()["prescriptions"]]
    attempts = [other_trust.get(f"/api/v1/prescriptions/{i}") for i in ids]
    attempts += [other_provider.get(f"/api/v1/prescriptions/{i}") for i in ids]  # routed to VNFKT, not VNCEL
    attempts += [other_trust.get("/api/v1/kpis?trust=RBA"), other_provider.get("/api/v1/kpis?provider=VNFKT")]
    for attempt in attempts:
        r = await attempt
        FIGURES.cross_tenant_attempts += 1
        FIGURES.cross_tenant_successes += r.status_code < 400
        answered(r, 401, 403, 404)
    released = answered(
        await other_provider.post(
            "/FHIR/R4/Task/$release", json=release_request("VNCEL"), headers={"Content-Type": "application/fhir+json"}
        ),
        200,
    )
    FIGURES.cross_tenant_attempts += 1
    FIGURES.cross_tenant_successes += bool(passed_orders(released.json()))
    assert FIGURES.cross_tenant_successes == 0

    token_url = f"{parties.base_url}/oauth2/token"
    trust_key = parties.keys["trust"]
    forged = ClientKey(trust_key.client_id, parties.keys["other_trust"].private_key_pem, trust_key.kid, trust_key.alg)
    replayed = token_request(trust_key, token_url)
    async with httpx.AsyncClient(base_url=parties.base_url) as anon:
        assert answered(await anon.post("/oauth2/token", data=replayed), 200).json()["access_token"]
        for form in (token_request(forged, token_url), replayed):
            r = answered(await anon.post("/oauth2/token", data=form), 400, 401)
            FIGURES.assertions_forged_or_replayed += 1
            FIGURES.assertions_forged_or_replayed_accepted += "access_token" in r.json()
    assert FIGURES.assertions_forged_or_replayed_accepted == 0
