"""The console sign-in: its CSRF token is bound to a server-side pre-session (login CSRF), and its per-address
rate limit believes X-Forwarded-For only from the operator's trusted proxies."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.context import Gateway
from gateway.operations import operators
from gateway.security.client_address import client_address, trusted_networks
from tests.conftest import serve

PASSWORD = "correct horse battery staple"
COOKIE = "hgw_login_csrf"


async def _form(browser: httpx.AsyncClient) -> str:
    page = await browser.get("/console/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def _sign_in(browser: httpx.AsyncClient, csrf: str, password: str = PASSWORD, **headers: str) -> int:
    form = {"csrf_token": csrf, "username": "alice", "password": password}
    return (await browser.post("/console/login", data=form, headers=headers)).status_code


@pytest.fixture
async def alice(gw: Gateway) -> None:
    await operators.add_operator(gw, username="alice", role="operator", password=PASSWORD)


async def test_a_sign_in_needs_a_form_this_server_gave_this_browser_once(gw: Gateway, alice: None) -> None:
    async with serve(gw) as url:
        async with httpx.AsyncClient(base_url=url) as browser:
            csrf = await _form(browser)
            assert await _sign_in(browser, csrf) == 303
            assert await _sign_in(browser, csrf) == 403  # the pre-session is used up
        async with httpx.AsyncClient(base_url=url) as attacker:
            # Double submit is not enough: a cookie and a token of the attacker's choosing match each other only.
            attacker.cookies.set(COOKIE, "chosen-by-the-attacker", path="/console/login")
            assert await _sign_in(attacker, "chosen-by-the-attacker") == 403
            # A real form of the attacker's own, replayed into another browser without its cookie, is refused too.
            own = await _form(attacker)
        async with httpx.AsyncClient(base_url=url) as victim:
            await _form(victim)  # the victim's own pre-session, with another token
            assert await _sign_in(victim, own) == 403


async def test_forwarded_for_is_believed_only_from_trusted_proxies(gw: Gateway, alice: None) -> None:
    async with serve(gw) as url, httpx.AsyncClient(base_url=url) as browser:
        statuses = []
        for n in range(25):  # 10 at once and 20 a minute per address: a new X-Forwarded-For each time changes nothing
            statuses.append(
                await _sign_in(browser, await _form(browser), "wrong", **{"X-Forwarded-For": f"203.0.113.{n}"})
            )
        assert 429 in statuses and 401 in statuses
    gw.settings = gw.settings.model_copy(update={"trusted_proxies": "127.0.0.0/8"})
    async with serve(gw) as url, httpx.AsyncClient(base_url=url) as browser:
        rotated = [
            await _sign_in(browser, await _form(browser), "wrong", **{"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(25)
        ]
        assert 429 not in rotated  # behind a trusted proxy, each client address has its own limit


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not a trusted proxy: its header is ignored
        ("10.0.0.2", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.2", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client wrote the first entry; the proxy the last
        ("10.0.0.2", "1.2.3.4, 10.0.0.3", "1.2.3.4"),  # through two trusted proxies
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2"),
        (None, "1.2.3.4", "unknown"),
    ],
)
def test_the_client_address(peer: str | None, forwarded: str | None, expected: str) -> None:
    assert client_address(peer, forwarded, trusted_networks("10.0.0.0/8")) == expected
