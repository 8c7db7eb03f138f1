"""Shared fixtures: a migrated database per test (SQLite and PostgreSQL), a Gateway, a real loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn

from gateway.api.app import create_app
from gateway.services import admin
from gateway.services.context import Gateway, build_gateway
from gateway.settings import Settings
from gateway.store.migrate import upgrade

PG_ADMIN_DSN = os.environ.get("HGW_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{dbname}".replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it. Unreachable PostgreSQL fails under CI=true."""
    try:
        admin_conn = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable at {PG_ADMIN_DSN}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_DSN} (set CI=true to make this a failure)")
    name = f"hgw_tpl_{uuid.uuid4().hex[:10]}"
    admin_conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))
    yield name
    admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "hgw.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"hgw_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, mode="test", port=0)


@pytest.fixture
async def gw(settings: Settings) -> AsyncIterator[Gateway]:
    gateway = build_gateway(settings)
    await admin.add_provider(gateway, ods="VNFKT", name="Five Star Homecare Leeds Ltd", mode="pull")
    await admin.add_provider(gateway, ods="VNCEL", name="Yorkshire Homecare Ltd", mode="pull")
    await admin.add_route(gateway, provider_ods="VNFKT")
    yield gateway
    await gateway.close()


@contextlib.asynccontextmanager
async def serve(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a real loopback socket, and a client for it."""
    server = uvicorn.Server(uvicorn.Config(create_app(gateway), host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def client(gw: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(gw) as c:
        yield c
