"""The gateway conformance suite against a real gateway on loopback (SQLite and PostgreSQL)."""

from __future__ import annotations

from conformance.client_auth import ClientKey
from conformance.context import Party, SuiteContext
from conformance.runner import run_suite
from conformance.suites import suite_spec
from gateway.security import client_auth
from tests.conftest import PARTIES


def _parties(keys: dict[str, client_auth.ClientKey]) -> dict[str, Party]:
    """The fixture's registered parties as the kit holds them (its own key type)."""
    return {
        name: Party(name, PARTIES[name][1], ClientKey(k.client_id, k.private_key_pem, k.kid, k.alg))
        for name, k in keys.items()
        if name in ("trust", "provider", "other_trust", "other_provider")
    }


async def test_gateway_suite_passes_against_the_gateway(
    base_url: str, parties: dict[str, client_auth.ClientKey]
) -> None:
    spec = suite_spec("gateway")
    lines: list[str] = []
    ctx = SuiteContext(base_url, _parties(parties), timeout=10, out=lines.append)
    result = await run_suite(spec.suite, ctx, mode="http", probe=spec.probe("http"))
    outcomes = {r.id: r.outcome for r in result.results}
    assert set(outcomes.values()) == {"pass"}, "\n".join(lines)
    assert len(outcomes) == len(spec.suite.tests())
    report = result.as_dict()
    assert report["exit_code"] == 0 and report["verdict"] == "pass"
    # every exchange captured, with the bearer tokens and client assertions redacted
    assert report["exchanges"] and all(e["test"] for e in report["exchanges"][1:])
    text = str(report["exchanges"])
    assert "eyJ" not in text  # no client assertion, no token
    auth = [
        e["request"]["headers"]["authorization"]
        for e in report["exchanges"]
        if "authorization" in e["request"]["headers"]
    ]
    assert auth and set(auth) == {"[redacted]"}
    tokens = [e["response"]["body"] for e in report["exchanges"] if e["url"].endswith("/oauth2/token")]
    assert tokens and all('"access_token": "[redacted]"' in body for body in tokens)
