"""`hgw conformance preset`: register the test parties in the gateway's store, as `hgw clients add` would."""

from __future__ import annotations

from conformance.context import Party
from gateway.services import admin
from gateway.services.context import build_gateway
from gateway.settings import Settings
from gateway.simulate.parties import register_party


async def register_preset(settings: Settings, ods: dict[str, str]) -> dict[str, Party]:
    """A fresh key pair per party, registered as a client; the providers registered (pull) if they are not yet."""
    gw = build_gateway(settings)
    try:
        known = {p.ods for p in await admin.providers(gw)}
        for name in ("provider", "other_provider"):
            if ods[name] not in known:
                await admin.add_provider(gw, ods=ods[name], name=f"Conformance test provider {ods[name]}", mode="pull")
        parties = {}
        for name, code in ods.items():
            role = "trust" if name.endswith("trust") else "provider"
            parties[name] = Party(name, code, await register_party(gw, role, code))
        return parties
    finally:
        await gw.close()
