"""`hgw conformance preset`: register the test parties in the gateway's store, as `hgw clients add` would, and
what EPS needs of the test trusts (`hgw organisations add|contact`) where the store has none yet."""

from __future__ import annotations

from conformance.context import Party
from gateway.context import Gateway
from gateway.operations import admin
from gateway.operations import organisations as directory
from gateway.settings import Settings
from gateway.simulate.directory import stand_in_prescribing
from gateway.simulate.parties import register_party
from gateway.wiring import build_gateway


async def register_preset(settings: Settings, ods: dict[str, str]) -> dict[str, Party]:
    """A fresh key pair per party, registered as a client; the providers registered (pull) if they are not yet."""
    gw = build_gateway(settings)
    try:
        known = {p.ods for p in await admin.providers(gw)}
        for name in ("provider", "other_provider"):
            if ods[name] not in known:
                await admin.add_provider(gw, ods=ods[name], name=f"Conformance test provider {ods[name]}", mode="pull")
        await _configure_trusts(gw, [code for name, code in ods.items() if name.endswith("trust")])
        parties = {}
        for name, code in ods.items():
            role = "trust" if name.endswith("trust") else "provider"
            parties[name] = Party(name, code, await register_party(gw, role, code))
        return parties
    finally:
        await gw.close()


async def _configure_trusts(gw: Gateway, trusts: list[str]) -> None:
    """The sample (or stand-in) organisation and team contact of each test trust the directory lacks."""
    known = {o.ods for o in await directory.organisations(gw)}
    contacts = {c.trust_ods for c in await directory.team_contacts(gw)}
    for trust in trusts:
        prescribing = stand_in_prescribing(trust)
        org = prescribing.organisation
        if trust not in known:
            address = ", ".join((*org.address.lines, org.address.postcode))
            await directory.add_organisation(
                gw, ods=trust, name=org.name, address=address, telecom=org.telecom or "01632 960999"
            )
        if trust not in contacts:
            contact = prescribing.contact
            await directory.set_team_contact(gw, trust_ods=trust, telecom=contact.telecom, job_role=contact.job_role)
