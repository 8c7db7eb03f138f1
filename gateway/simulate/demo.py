"""`hgw demo`: the gateway on a fresh SQLite file, a simulated trust and simulated providers, timelines printed."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

from gateway.app import create_app
from gateway.context import Gateway
from gateway.logs import configure_logging
from gateway.operations import admin, operators
from gateway.security.crypto import KeyRing
from gateway.settings import Settings
from gateway.simulate.billing import bill_and_decide
from gateway.simulate.demo_history import seed_history
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.simulate.provider import SimulatedProvider
from gateway.simulate.trust import post_sample_export
from gateway.store.migrate import upgrade
from gateway.wiring import build_gateway

PROVIDERS = (("VNFKT", "Five Star Homecare Leeds Ltd"), ("VNCEL", "Yorkshire Homecare Ltd"))
TRUST = "RBA"  # Taunton and Somerset NHS Foundation Trust, as in the EPS test data


def demo_settings(settings: Settings) -> Settings:
    """The same settings on a fresh store of its own under `<data_dir>/demo`."""
    values = settings.model_dump()
    values.update(data_dir=settings.data_dir / "demo", database_url=None, mode="demo")
    return Settings(**values)


async def run_demo(settings: Settings, *, once: bool, timeout: float = 60.0, out: Callable[[str], None] = print) -> int:
    settings = demo_settings(settings)
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    settings.data_dir.mkdir(parents=True)
    await asyncio.to_thread(upgrade, settings.effective_database_url)
    KeyRing(settings.data_dir).mark_demo()
    log_file = settings.data_dir / "gateway.log"
    configure_logging(settings.log_level, log_file)
    gw = build_gateway(settings)
    for ods, name in PROVIDERS:
        await admin.add_provider(gw, ods=ods, name=name, mode="pull")
    await admin.add_route(gw, provider_ods=PROVIDERS[0][0])  # the default route
    await configure_sample_directory(gw)  # the trust's organisations and homecare team, as EPS needs them
    history = await seed_history(gw, tuple(ods for ods, _ in PROVIDERS))  # months of KPIs and patients at risk
    console_logins = await _demo_operators(gw)
    trust_key = await register_party(gw, "trust", TRUST)
    provider_keys = {ods: await register_party(gw, "provider", ods) for ods, _ in PROVIDERS}

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(gw), host=settings.host, port=settings.port, log_config=None, lifespan="on", proxy_headers=False
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            out(f"the gateway could not start on {settings.host}:{settings.port}")
            await gw.close()
            return 2
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    gw.settings = gw.settings.served_at(settings.host, port)  # the token audience, when HGW_BASE_URL is unset
    base = f"http://{settings.host}:{port}"
    out(f"Homecare Gateway demo at {base} — console: {base}/console")
    out(f"store: {settings.effective_database_url}; logs: {log_file}")
    out(history.line())
    for username, role, password in console_logins:
        out(f"console sign-in ({role}): {username} / {password}")
    stop = asyncio.Event()
    code = 1
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(party_client(base, trust_key))
        provider_clients = {
            ods: await stack.enter_async_context(party_client(base, key)) for ods, key in provider_keys.items()
        }
        ids: list[str] = []
        reports = [
            await post_sample_export(client, 4, seed=7, trust_ods=TRUST),
            await post_sample_export(client, 2, seed=8, trust_ods=TRUST, provider_ods="VNCEL"),
        ]
        for report in reports:
            for p in report["prescriptions"]:
                out(
                    f"trust posted {p['rx_number']}: {p['outcome']} → {p.get('short_form_id')} "
                    f"for {p.get('provider_ods')}"
                )
                if p["outcome"] == "accepted":
                    ids.append(p["short_form_id"])
        providers = [
            asyncio.create_task(SimulatedProvider(provider_clients[ods], ods).run(interval=0.2, stop=stop))
            for ods, _ in PROVIDERS
        ]
        try:
            done = await asyncio.wait_for(_watch(client, ids, out, providers), timeout=timeout)
            code = 0 if done else 1
        except TimeoutError:
            out(f"not every prescription was delivered within {timeout:.0f} s")
        if code == 0:
            out(f"all {len(ids)} prescriptions delivered")
            await bill_and_decide(gw, client, provider_clients, TRUST, ids, out)  # invoicing (docs/invoicing.md)
        if not once:
            out(f"serving the demo until Ctrl-C — console: {base}/console")
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        stop.set()
        await asyncio.gather(*providers, return_exceptions=True)
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await gw.close()
    return code


async def _demo_operators(gw: Gateway) -> list[tuple[str, str, str]]:
    """Console users for the demo only (fresh random passwords, printed): an admin and an auditor of the gateway,
    and a trust's and a provider's staff (docs/console.md, "One portal")."""
    logins = []
    for username, role, org, kind in (
        ("demo", "admin", None, None),
        ("demo-auditor", "auditor", None, None),
        ("demo-trust", "viewer", TRUST, "trust"),
        ("demo-provider", "viewer", PROVIDERS[0][0], "provider"),
    ):
        password = secrets.token_urlsafe(12)
        await operators.add_operator(
            gw, username=username, role=role, password=password, organisation=org, organisation_kind=kind
        )
        logins.append((username, role if org is None else f"{role}, {kind} {org}", password))
    return logins


async def _watch(
    client: httpx.AsyncClient, ids: list[str], out: Callable[[str], None], providers: list[asyncio.Task[None]]
) -> bool:
    """Print each prescription's new timeline entries until all are delivered (False if a provider died)."""
    seen: dict[str, int] = dict.fromkeys(ids, 0)
    while True:
        finished = 0
        for sid in ids:
            view: dict[str, Any] = (await client.get(f"/api/v1/prescriptions/{sid}")).json()
            for event in view["timeline"][seen[sid] :]:
                out(f"{event['at'][11:19]} {sid} {event['kind']:<22} {event['detail'] or ''}")
            seen[sid] = len(view["timeline"])
            delivered = view["deliveries_made"] >= view["deliveries_authorised"]
            finished += view["status"]["code"] == "0006" and delivered
        if finished == len(ids):
            return True
        for task in providers:
            if task.done():
                out(f"a simulated provider stopped: {task.exception()!r}")
                return False
        await asyncio.sleep(0.2)
