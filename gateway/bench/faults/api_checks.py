"""The API campaign's checks (`gateway.bench.faults.api_campaign`): the database against what each client was told."""

from __future__ import annotations

from collections import Counter

from gateway.bench.faults.api_config import PROVIDER_ODS, TRUST_ODS
from gateway.bench.faults.api_ledger import Ledger
from gateway.context import Gateway
from gateway.domain.outbox import WAITING, OutboxState
from gateway.store import delivery_ledger

# What became of an order the provider acknowledged (or of one withdrawn before it had it).
_ANSWERED = (OutboxState.ACKNOWLEDGED, OutboxState.CANCELLED, OutboxState.REJECTED)


async def check(gw: Gateway, ledger: Ledger) -> dict[str, dict[str, int]]:
    """Compare the database with what the clients were told, per kind of effect.

    - export: every (RxNumber, version) the trust saw accepted is one prescription row;
    - release: every order acknowledged was handed over to the provider (lost: never; stuck: still queued or
      leased); a duplicate is an order the gateway released again after its acknowledgement committed (it
      would be leased again: left leased with an acknowledgement applied, or acknowledged twice). The provider
      may still see an acknowledged order again in the replay of a `$release` answer whose leases ran out
      meanwhile (`replayed_after_acknowledged`): the replay is the first answer byte for byte, and the provider
      knows the order by its MessageHeader.id;
    - acknowledgement: every order the provider saw acknowledged is acknowledged, by one lifecycle event;
    - dispense: every notification the provider saw accepted is one dispense record;
    - dispatch: every dispatch Task the provider saw accepted is one `delivery-dispatched` event;
    - delivery: every delivery the provider saw accepted is delivered once (one event, one delivery made).

    `stuck` also counts the requests given up at the deadline."""
    async with gw.sessions() as session:
        found = await delivery_ledger.effects(session, TRUST_ODS, PROVIDER_ODS)
    prescriptions, outbox, events = found.prescriptions, found.outbox, found.events
    dispenses, releases, deliveries = found.dispenses, found.release_attempts, found.first_deliveries
    rows = Counter((p.rx_number, p.rx_version) for p in prescriptions)
    by_sfid = {p.short_form_id: p for p in prescriptions}
    by_id = {p.id: p for p in prescriptions}
    out: dict[str, dict[str, int]] = {}
    out["export"] = {
        "confirmed": len(ledger.exports),
        "amendments": sum(version > 1 for _, version in ledger.exports),
        "lost": sum(rows[key] == 0 for key in ledger.exports),
        "duplicate_effects": sum(rows[key] > 1 for key in ledger.exports),
        "stuck": ledger.unanswered["export"],
        "unconfirmed": sum(1 for key in rows if key not in ledger.exports),
    }
    ack_events = Counter(
        e.message_id for e in events if e.message_id is not None and e.kind in ("acknowledged", "cancelled", "rejected")
    )
    state = {e.message_id: e.state for e in outbox}
    # An order released again after its acknowledgement committed would be leased again: still leased (or queued)
    # with an acknowledgement applied, or acknowledged a second time. Timestamps cannot tell: a request reads the
    # clock before it waits for the database, so an acknowledgement stamped first may commit after a release.
    released_again = sum(
        (state[m] in WAITING and ack_events[m] > 0) or ack_events[m] > 1 for m in state
    )
    out["release"] = {
        "confirmed": len(ledger.received),
        "lost": sum(1 for e in outbox if e.state == OutboxState.ACKNOWLEDGED and e.message_id not in ledger.received),
        "duplicate_effects": released_again,
        "handed_over_after_acknowledged": ledger.released_after_ack,
        "stuck": sum(e.state in WAITING for e in outbox) + ledger.unanswered["release"],
        "handed_over_again": sum(n > 1 for n in ledger.received.values()),
        "replayed_after_acknowledged": ledger.replayed_after_ack,
        "release_attempts": int(releases),
    }
    out["acknowledgement"] = {
        "confirmed": len(ledger.acknowledged),
        "lost": sum(state.get(m) not in _ANSWERED for m in ledger.acknowledged),
        "duplicate_effects": sum(n > 1 for m, n in ack_events.items() if m in state),
        "stuck": ledger.unanswered["acknowledgement"],
    }
    records = Counter(by_id[d.prescription_id].short_form_id for d in dispenses if d.prescription_id in by_id)
    out["dispense"] = {
        "confirmed": len(ledger.dispensed),
        "lost": sum(records[s] == 0 for s in ledger.dispensed),
        "duplicate_effects": sum(n > 1 for n in records.values()),
        "stuck": ledger.unanswered["dispense"],
        "unconfirmed": sum(1 for s in records if s not in ledger.dispensed),
    }
    dispatched_events = Counter(e.prescription_id for e in events if e.kind == "delivery-dispatched")
    out["dispatch"] = {
        "confirmed": len(ledger.dispatched),
        "lost": sum(dispatched_events[by_sfid[s].id] == 0 for s in ledger.dispatched if s in by_sfid),
        "duplicate_effects": sum(n > 1 for n in dispatched_events.values()),
        "stuck": ledger.unanswered["dispatch"],
        "unconfirmed": sum(
            1 for p in prescriptions if dispatched_events[p.id] and p.short_form_id not in ledger.dispatched
        ),
    }
    delivered_events = Counter(e.prescription_id for e in events if e.kind == "delivery-delivered")
    delivered_rows = Counter(d.prescription_id for d in deliveries if d.state == "delivered")
    out["delivery"] = {
        "confirmed": len(ledger.delivered),
        "lost": sum(delivered_rows[by_sfid[s].id] == 0 for s in ledger.delivered if s in by_sfid),
        "duplicate_effects": sum(
            delivered_events[p.id] > 1 or delivered_rows[p.id] > 1 or p.deliveries_made > 1 for p in prescriptions
        ),
        "stuck": ledger.unanswered["delivery"],
        "unconfirmed": sum(
            1 for p in prescriptions if delivered_rows[p.id] and p.short_form_id not in ledger.delivered
        ),
    }
    return out
