"""A real gateway on loopback with seeded messages and console operators, and Debian's chromium driven by
Playwright (the system browser through `executable_path`: no `playwright install`, no download).

Screenshots go to $HGW_ARTEFACTS (default tests/artefacts/), kept as test artefacts. SQLite only: the service
tests cover both databases; these check that the pages work in a browser.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from gateway.context import Gateway
from gateway.operations import admin, operators
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.wiring import build_gateway
from tests.conftest import serve
from tests.integration.console_support import Seeded, seed

CHROMIUM = Path(os.environ.get("HGW_CHROMIUM", "/usr/bin/chromium"))
PASSWORD = "correct horse battery"
# username -> role
OPERATORS = {"vera": "viewer", "otto": "operator", "ada": "admin", "aud": "auditor"}

pytestmark = pytest.mark.browser


@dataclass
class Site:
    url: str
    gw: Gateway
    seeded: Seeded
    browser: Browser
    artefacts: Path

    async def page(self) -> Page:
        context = await self.browser.new_context(base_url=self.url, viewport={"width": 1400, "height": 1000})
        return await context.new_page()

    async def login(self, username: str, password: str = PASSWORD) -> Page:
        page = await self.page()
        await page.goto("/console/login")
        await page.fill("#username", username)
        await page.fill("#password", password)
        await page.click("#sign-in")
        return page

    async def shot(self, page: Page, name: str) -> None:
        await page.screenshot(path=str(self.artefacts / f"{name}.png"), full_page=True)


def _artefacts(request: pytest.FixtureRequest) -> Path:
    base = Path(os.environ.get("HGW_ARTEFACTS", Path(__file__).parents[1] / "artefacts"))
    path = base / "browser" / re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def site(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Site]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: scripts/test installs Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / "hgw.sqlite3"
    shutil.copyfile(sqlite_template, path)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{path}",
        mode="test",
        port=0,
        token_seconds=3600,
        push_workers=0,
    )
    gw = build_gateway(settings)
    try:
        await admin.add_provider(gw, ods="VNFKT", name="Five Star Homecare Leeds Ltd", mode="pull")
        # A push provider to pause and resume; nothing is routed to it, and no push worker runs.
        await admin.add_provider(
            gw,
            ods="VNCEL",
            name="Yorkshire Homecare Ltd",
            mode="push",
            endpoint="https://vncel.invalid/FHIR/R4/$process-message",
        )
        await admin.add_route(gw, provider_ods="VNFKT")
        await configure_sample_directory(gw)
        for username, role in OPERATORS.items():
            await operators.add_operator(gw, username=username, role=role, password=PASSWORD)
        trust_key = await register_party(gw, "trust", "RBA")
        async with serve(gw) as url, party_client(url, trust_key) as trust:
            seeded = await seed(gw, trust, count=4, dead=2)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    yield Site(url, gw, seeded, browser, _artefacts(request))
                finally:
                    await browser.close()
    finally:
        await gw.close()
