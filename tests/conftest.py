"""Shared fixtures: a migrated database per test (SQLite and PostgreSQL), a Gateway, a real loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import ssl
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx._transports.default as httpx_default_transport
import psycopg
import pytest
import uvicorn

from gateway.app import create_app
from gateway.context import Gateway
from gateway.operations import admin
from gateway.security import guarded_transport
from gateway.security import outbound as outbound_rules
from gateway.security.client_auth import ClientKey
from gateway.security.guarded_transport import LoopbackOnlyBackend
from gateway.security.outbound import StaticResolver
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.store.migrate import upgrade
from gateway.wiring import build_gateway

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
def pg_template() -> Iterator[ClonePool]:
    """A migrated template database and the pool of its clones, one per test. Unreachable PostgreSQL fails under
    CI=true."""
    try:
        admin_conn = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable at {PG_ADMIN_DSN}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_DSN} (set CI=true to make this a failure)")
    name = f"hgw_tpl_{uuid.uuid4().hex[:10]}"
    with admin_conn:
        admin_conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))
    clones = ClonePool(name)
    yield clones
    clones.close()
    # A new connection: the fault campaign restarts PostgreSQL, which ends any connection held over the session.
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ClonePool:
    """Clones of the template made, and used ones dropped, by a background thread while tests run: a clone costs
    0.1–0.4 s of PostgreSQL work, which this overlaps with the tests instead of adding to each one. Every test
    still gets a fresh clone of the migrated template."""

    READY = 3

    def __init__(self, template: str) -> None:
        self.template = template
        self._ready: queue.Queue[str] = queue.Queue()
        self._used: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="pg-clones", daemon=True)
        self._thread.start()

    def take(self) -> str:
        with contextlib.suppress(queue.Empty):
            return self._ready.get(timeout=120)
        return self._clone()  # the thread is stuck (PostgreSQL restarting?): clone here, or fail with its error

    def give_back(self, name: str) -> None:
        self._used.put(name)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        leftovers = [*self._drain(self._ready), *self._drain(self._used)]
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            for name in leftovers:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _clone(self) -> str:
        name = f"hgw_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                with contextlib.suppress(queue.Empty):
                    name = self._used.get_nowait()
                    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    continue
                if self._ready.qsize() < self.READY:
                    self._ready.put(self._clone())
                else:
                    self._stop.wait(0.02)
            except psycopg.OperationalError:
                self._stop.wait(0.5)  # PostgreSQL restarting (the fault campaign): try again

    @staticmethod
    def _drain(q: queue.Queue[str]) -> list[str]:
        items = []
        with contextlib.suppress(queue.Empty):
            while True:
                items.append(q.get_nowait())
        return items


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "hgw.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    clones: ClonePool = request.getfixturevalue("pg_template")
    name = clones.take()
    yield _pg_url(name)
    clones.give_back(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Tokens outlive the lease, so tests that move the clock past a lease keep their credentials.
    # Test receivers listen on loopback: allowed explicitly, as an operator would for a simulator on the same host.
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mode="test",
        port=0,
        token_seconds=3600,
        outbound_allow_loopback=True,
    )


# Names in tests resolve without DNS: localhost to loopback, any other (provider.example, …) to one public address,
# which passes the outbound policy but is never connected to (LoopbackOnlyBackend refuses it at once).
TEST_RESOLVER = StaticResolver({"localhost": ["127.0.0.1"]}, otherwise=("93.184.215.14",))


_SSL_CONTEXTS: dict[tuple[bool, str | None, str | None], ssl.SSLContext] = {}


def _shared_default_ssl_context(
    verify: ssl.SSLContext | str | bool = True, cert: Any = None, trust_env: bool = True
) -> ssl.SSLContext:
    """httpx's default context (verify=True, no client certificate), made once per process: every gateway and
    test client builds one otherwise, and loading the CA bundle costs 35 ms each. Anything else is made as httpx
    makes it (a context passed in is used as it is)."""
    if verify is not True or cert is not None:
        return _create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
    key = (trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    if key not in _SSL_CONTEXTS:
        _SSL_CONTEXTS[key] = _create_ssl_context(verify=True, trust_env=trust_env)
    return _SSL_CONTEXTS[key]


_create_ssl_context = httpx.create_ssl_context


@pytest.fixture(autouse=True, scope="session")
def _one_default_ssl_context() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx, "create_ssl_context", _shared_default_ssl_context)
        patch.setattr(httpx_default_transport, "create_ssl_context", _shared_default_ssl_context)
        yield


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DNS, and no connection off the machine: the gateway's guarded transport connects to loopback only."""
    monkeypatch.setattr(outbound_rules, "system_resolver", TEST_RESOLVER)
    monkeypatch.setattr(guarded_transport, "network_backend", LoopbackOnlyBackend)


@pytest.fixture
async def bare_gw(settings: Settings) -> AsyncIterator[Gateway]:
    """A gateway on a freshly migrated, empty database."""
    gateway = build_gateway(settings)
    yield gateway
    await gateway.close()


@pytest.fixture
async def gw(bare_gw: Gateway) -> Gateway:
    """A gateway with two pull providers, VNFKT being the default route, and the sample trusts configured."""
    await admin.add_provider(bare_gw, ods="VNFKT", name="Five Star Homecare Leeds Ltd", mode="pull")
    await admin.add_provider(bare_gw, ods="VNCEL", name="Yorkshire Homecare Ltd", mode="pull")
    await admin.add_route(bare_gw, provider_ods="VNFKT")
    await configure_sample_directory(bare_gw)  # what EPS needs of the sample trusts and exports do not carry
    return bare_gw


@contextlib.asynccontextmanager
async def running(config: uvicorn.Config) -> AsyncIterator[int]:
    """A uvicorn server (on a loopback socket, port 0) running until exit; yields the port it was given."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def serve(gateway: Gateway) -> AsyncIterator[str]:
    """The app on a real loopback socket; yields its base URL, which becomes the gateway's public URL (the audience
    of client assertions) unless its settings name one."""
    config = uvicorn.Config(create_app(gateway), host="127.0.0.1", port=0, log_level="warning", proxy_headers=False)
    async with running(config) as port:
        configured = gateway.settings.base_url
        gateway.settings = gateway.settings.served_at("127.0.0.1", port)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:  # served again later, it listens on another port
            gateway.settings = gateway.settings.model_copy(update={"base_url": configured})


# name → (role, ODS): two trusts, two providers and an operator, each a registered client with its own key.
PARTIES = {
    "trust": ("trust", "RBA"),
    "other_trust": ("trust", "RHM"),
    "provider": ("provider", "VNFKT"),
    "other_provider": ("provider", "VNCEL"),
    "operator": ("operator", "X26"),
}


@pytest.fixture
async def parties(gw: Gateway) -> dict[str, ClientKey]:
    return {name: await register_party(gw, role, ods) for name, (role, ods) in PARTIES.items()}


@pytest.fixture
async def base_url(gw: Gateway) -> AsyncIterator[str]:
    async with serve(gw) as url:
        yield url


@pytest.fixture
async def as_party(base_url: str, parties: dict[str, ClientKey]) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """as_party(name): an HTTP client authenticated as that party ("anonymous": no credentials)."""
    opened: list[httpx.AsyncClient] = []

    def make(name: str) -> httpx.AsyncClient:
        if name == "anonymous":
            c = httpx.AsyncClient(base_url=base_url, timeout=30)
        else:
            c = party_client(base_url, parties[name])
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.aclose()


@pytest.fixture
def trust(as_party: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return as_party("trust")


@pytest.fixture
def provider(as_party: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return as_party("provider")


@pytest.fixture
def other_provider(as_party: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return as_party("other_provider")


@pytest.fixture
def anon(as_party: Callable[[str], httpx.AsyncClient]) -> httpx.AsyncClient:
    return as_party("anonymous")
