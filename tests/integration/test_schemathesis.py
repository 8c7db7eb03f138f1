"""The gateway's OpenAPI schema, served by a real loopback server: fuzzed by schemathesis operation by operation and
along the links from each create to what uses what it created (stateful), and refused anonymously."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from gateway.context import Gateway
from gateway.security.client_auth import ClientKey, token_request
from gateway.settings import Settings
from tests.conftest import serve
from tests.integration.schema_fuzz import (
    CHECKS,
    EXCLUDED,
    LINKS,
    MAX_EXAMPLES,
    PUBLIC,
    ROLE_FOR,
    fuzz,
    fuzz_stateful,
    operation_labels,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A fuzzed client sends hundreds of requests in seconds; the default burst would answer some of them 429.
    return settings.model_copy(update={"rate_burst": 10_000})


async def _live_schema(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


async def _tokens(
    client: httpx.AsyncClient, base_url: str, parties: dict[str, ClientKey], wanted: set[str]
) -> dict[str, str]:
    """An access token (private_key_jwt at the token endpoint) for each party named."""
    token_url = f"{base_url}/oauth2/token"
    tokens = {}
    for party in sorted(wanted):
        response = await client.post(token_url, data=token_request(parties[party], token_url))
        assert response.status_code == 200, response.text
        tokens[party] = response.json()["access_token"]
    return tokens


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _references(item)]
    return []


def _resolves(doc: dict[str, Any], ref: str) -> bool:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return ref.startswith("#/")


async def test_every_reference_in_the_served_schema_resolves(gw: Gateway) -> None:
    # A body declared with pydantic's local `#/$defs/…` would name nothing at the document's root: schemathesis
    # (and client generators) then skip the body, so the operation went unfuzzed.
    async with serve(gw) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        raw = await _live_schema(client)
    refs = _references(raw)
    assert refs, "the schema has no references at all: this test would check nothing"
    dangling = sorted({ref for ref in refs if not _resolves(raw, ref)})
    assert not dangling, f"references that name nothing in /openapi.json: {dangling}"


async def test_every_non_public_operation_refuses_requests_without_valid_credentials(gw: Gateway) -> None:
    async with serve(gw) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        labels = operation_labels(await _live_schema(client))
        assert PUBLIC <= set(labels), f"the public allow-list names operations the schema lacks: {PUBLIC - set(labels)}"
        guarded = [label for label in labels if label not in PUBLIC]
        assert guarded
        accepted = []
        for label in guarded:
            method, path = label.split(" ", 1)
            url = re.sub(r"\{[^}]+\}", "x", path)
            for credentials in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dTpw"}):
                response = await client.request(method, url, headers=credentials)
                challenge = response.headers.get("www-authenticate", "")
                if response.status_code != 401 or not challenge.startswith("Bearer"):
                    accepted.append(f"{label} with {credentials or 'no credentials'}: {response.status_code}")
    assert not accepted, "operations that did not answer 401 with a Bearer challenge:\n" + "\n".join(accepted)


async def test_schemathesis_finds_no_server_error_schema_violation_or_ignored_auth(
    gw: Gateway, parties: dict[str, ClientKey]
) -> None:
    async with serve(gw) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        raw = await _live_schema(client)
        labels = set(operation_labels(raw))
        unassigned = sorted(labels - PUBLIC - ROLE_FOR.keys())
        assert not unassigned, (
            f"give these operations a party in schema_fuzz.ROLE_FOR, or make them PUBLIC: {unassigned}"
        )
        stale = sorted({operation for operation, _check in EXCLUDED} - labels)
        assert not stale, f"schema_fuzz.EXCLUDED names operations the schema lacks: {stale}"
        unknown = sorted({check for _operation, check in EXCLUDED} - {check.__name__ for check in CHECKS})
        assert not unknown, f"schema_fuzz.EXCLUDED names checks that are not run: {unknown}"
        tokens = await _tokens(client, base_url, parties, set(ROLE_FOR.values()))
        # schemathesis sends with requests, which blocks: it runs in a thread while the server serves on this loop.
        async with asyncio.timeout(max(420, 15 * MAX_EXAMPLES)):  # every operation, a few examples each
            findings = await asyncio.to_thread(fuzz, raw, base_url, tokens)
    report = "\n\n".join(f"{f.operation} → {f.status}: {f.failure} ({f.title})\n{f.curl}" for f in findings)
    assert not findings, f"schemathesis found {len(findings)} problem(s):\n\n{report}"


async def test_schemathesis_stateful_run_follows_every_create_and_finds_no_server_error_or_violation(
    gw: Gateway, parties: dict[str, ClientKey]
) -> None:
    async with serve(gw) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        raw = await _live_schema(client)
        labels = set(operation_labels(raw))
        ends = {end for link in LINKS for end in (link.source, link.target)}
        assert not ends - labels, f"schema_fuzz.LINKS names operations the schema lacks: {sorted(ends - labels)}"
        tokens = await _tokens(client, base_url, parties, {ROLE_FOR[end] for end in ends})
        async with asyncio.timeout(420):
            run = await asyncio.to_thread(fuzz_stateful, raw, base_url, tokens)
    report = "\n\n".join(f"{f.operation} → {f.status}: {f.failure} ({f.title})\n{f.curl}" for f in run.findings)
    assert not run.findings, f"schemathesis (stateful) found {len(run.findings)} problem(s):\n\n{report}"
    # Not vacuous: from every create a link was followed with the value it answered, to a success.
    creates = {link.source for link in LINKS if link.source.startswith("POST ") and "{" not in link.source}
    landed_from = {name.split(" → ")[0] for name in run.landed}
    assert creates <= landed_from, (
        f"no link from {sorted(creates - landed_from)} reached a success in {run.scenarios} scenarios "
        f"({run.suites} suites); links followed: {dict(run.followed)}; requests: {dict(run.calls)}"
    )
