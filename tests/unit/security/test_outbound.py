"""The outbound policy: https to public addresses only, unless an operator allows a range or loopback; checked on
what a name resolves to (a fake resolver here: no DNS, no connection)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.delivery.errors import PermanentDeliveryError
from gateway.delivery.transport import transport_errors
from gateway.errors import InputError
from gateway.security.guarded_transport import GuardedTransport, refused_by_policy
from gateway.security.outbound import OutboundPolicy, StaticResolver, check_url, parse_cidrs

NAMES = {
    "provider.example": ["93.184.215.14"],
    "metadata.example": ["169.254.169.254"],
    "intranet.example": ["10.20.30.40"],
    "split.example": ["93.184.215.14", "192.168.1.9"],  # one private answer among public ones is enough to refuse
    "mapped.example": ["::ffff:10.0.0.1"],
    "v6.example": ["2606:4700::6810:85e5"],
    "ula.example": ["fd12:3456::1"],
    "local.example": ["127.0.0.1"],
}
RESOLVER = StaticResolver(NAMES)


def _check(policy: OutboundPolicy, url: str) -> str | None:
    return asyncio.run(policy.check(url, RESOLVER))


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("https://provider.example/FHIR/R4/$process-message", None),
        ("https://v6.example/hook", None),
        ("https://93.184.215.14/hook", None),
        ("https://metadata.example/latest/meta-data", "169.254.169.254 is not a public address"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is not a public address"),
        ("https://intranet.example/hook", "10.20.30.40 is not a public address"),
        ("https://split.example/hook", "192.168.1.9 is not a public address"),
        ("https://mapped.example/hook", "10.0.0.1 is not a public address"),
        ("https://ula.example/hook", "fd12:3456::1 is not a public address"),
        ("https://[::1]/hook", "::1 is a loopback address"),
        ("https://local.example/hook", "127.0.0.1 is a loopback address"),
        ("https://0.0.0.0/hook", "0.0.0.0 is not a public address"),
        ("https://224.0.0.1/hook", "224.0.0.1 is not a public address"),
        ("https://nowhere.example/hook", "nowhere.example does not resolve"),
        ("http://provider.example/hook", "http is allowed only to a loopback address"),
        ("ftp://provider.example/hook", "the scheme must be https"),
        ("https:///hook", "the URL has no host"),
    ],
)
def test_the_default_policy_allows_https_to_public_addresses_only(url: str, refusal: str | None) -> None:
    problem = _check(OutboundPolicy(), url)
    assert (problem is None) if refusal is None else (problem is not None and refusal in problem), problem


def test_an_operator_may_allow_private_ranges_and_loopback() -> None:
    hscn = OutboundPolicy(parse_cidrs("10.0.0.0/8, 192.168.0.0/16"))
    assert _check(hscn, "https://intranet.example/hook") is None
    assert _check(hscn, "https://split.example/hook") is None
    assert _check(hscn, "https://mapped.example/hook") is None
    assert "169.254.169.254" in str(_check(hscn, "https://metadata.example/hook"))  # only the ranges allowed
    loopback = OutboundPolicy(allow_loopback=True)
    assert _check(loopback, "http://127.0.0.1:8080/hook") is None
    assert _check(loopback, "http://local.example/hook") is None
    assert "http is allowed only" in str(_check(loopback, "http://provider.example/hook"))
    assert "not a public address" in str(_check(loopback, "https://intranet.example/hook"))


def test_demo_mode_allows_loopback_and_settings_ranges_are_parsed() -> None:
    assert OutboundPolicy.from_settings(None, allow_loopback=False, mode="demo").allow_loopback
    assert not OutboundPolicy.from_settings(None, allow_loopback=False, mode="test").allow_loopback
    assert [
        str(n) for n in OutboundPolicy.from_settings("10.1.2.3/8", allow_loopback=False, mode="x").allow_networks
    ] == ["10.0.0.0/8"]
    with pytest.raises(ValueError, match="10.0.0.0/33"):
        parse_cidrs("10.0.0.0/33")


def test_a_refused_url_is_a_located_input_error() -> None:
    with pytest.raises(InputError) as caught:
        asyncio.run(
            check_url(
                OutboundPolicy(),
                RESOLVER,
                "https://metadata.example/x",
                code="INVALID_WEBHOOK_URL",
                column=None,
                path="url",
            )
        )
    issue = caught.value.issues[0]
    assert (issue.code, issue.location.path, issue.value) == (
        "INVALID_WEBHOOK_URL",
        "url",
        "https://metadata.example/x",
    )


async def test_the_transport_refuses_to_connect_to_a_refused_address_whatever_the_url_said() -> None:
    """DNS rebinding: the name is resolved again for the connection, and the address it gives is checked then."""
    names = {"rebind.example": ["93.184.215.14"]}
    resolver = StaticResolver(names)
    policy = OutboundPolicy()
    assert await policy.check("https://rebind.example/hook", resolver) is None  # as at registration
    names["rebind.example"] = ["169.254.169.254"]  # the attacker's DNS answers differently now
    transport = GuardedTransport(policy, resolver)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="169.254.169.254 is not a public address") as refused:
            await client.post("https://rebind.example/hook", content=b"{}")
        assert refused_by_policy(refused.value)
        with pytest.raises(PermanentDeliveryError, match="169.254.169.254") as permanent:  # as push and webhooks see it
            with transport_errors(10, url_name="endpoint", bad_url_outcome="bad-url"):
                await client.post("https://rebind.example/hook", content=b"{}")
        assert permanent.value.outcome == "blocked-address"
        with pytest.raises(httpx.ConnectError, match="does not resolve"):
            await client.get("https://nowhere.example/")
    await transport.close()


async def test_the_test_network_connects_to_loopback_only() -> None:
    """What every test gets (tests/conftest.py): a name resolved to a public address is refused at once, unsent."""
    transport = GuardedTransport(OutboundPolicy(), StaticResolver({}, otherwise=("93.184.215.14",)))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="loopback only, not 93.184.215.14"):
            await client.get("https://anywhere.example/")
    await transport.close()
