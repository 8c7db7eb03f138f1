"""The gateway suite, continued: cancellation of an order the provider has, bad input, tenancy, lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime

from conformance.checks import (
    expect_status,
    issue_code,
    json_body,
    outcome_issues,
    validation_findings,
)
from conformance.context import SuiteContext
from conformance.identifiers import bad_nhs_check_digit
from conformance.model import TestRun
from conformance.orders import unique_rows
from conformance.parties import provider_messages as msg
from conformance.suites.gateway_common import (
    SUITE,
    cancel,
    errors,
    need,
    party_ods,
    post_export,
    post_message,
    prescription_view,
    release_for,
)

__all__ = ["SUITE"]


# --- GW-CANCEL --------------------------------------------------------------------------------------------------
@cancel.test(
    "GW-CANCEL-001",
    "A cancel of an acknowledged order goes to the provider, one message a line, completing on their acknowledgements",
    requirements=["GW-CAN-1"],
)
async def cancel_with_provider(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "trust", "provider")
    ods = party_ods(ctx, "provider")
    rows = unique_rows(1, trust_ods=party_ods(ctx, "trust"), provider_ods=ods)
    report = json_body(t, await post_export(ctx, rows), "GW-CAN-1")
    sid = (report.get("prescriptions") or [{}])[0].get("short_form_id")
    t.require(report.get("outcome") == "accepted" and bool(sid), "GW-CAN-1", f"export: {report}", "outcome")
    status, orders = await release_for(ctx, t, "provider", sid)
    t.require(len(orders) == 1, "GW-CAN-1", f"released {len(orders)} orders (HTTP {status})", "passedPrescriptions")
    ack = msg.acknowledgement(ods, msg.order_facts(orders[0])["message_id"], "urn:conformance")
    expect_status(t, await post_message(ctx, "provider", ack), 200, "GW-CAN-1", "ack")

    cancelled = [row | {"Action": "CANCEL", "CancelReason": "At the Patient's request"} for row in rows]
    answer = json_body(t, await post_export(ctx, cancelled), "GW-CAN-1")["prescriptions"][0]
    t.require(
        answer.get("outcome") == "cancellation-requested",
        "GW-CAN-1",
        f"cancel of an order the provider has: {answer.get('outcome')!r}",
        "prescriptions[0].outcome",
    )
    # One prescription-order-update per line item (EPS cancels one line per message), released one after another.
    for line in range(1, len(rows) + 1):
        status, updates = await release_for(ctx, t, "provider", sid)
        t.require(
            len(updates) == 1,
            "GW-CAN-1",
            f"the cancellation of line {line} of {len(rows)} was not released (HTTP {status})",
            "passedPrescriptions",
        )
        update = updates[0]
        facts = msg.order_facts(update)
        t.check(
            facts["event"] == "prescription-order-update",
            "GW-CAN-1",
            f"event {facts['event']!r}",
            "Bundle.entry[0].resource.eventCoding.code",
        )
        statuses = [r.get("status") for r in msg.resources(update, "MedicationRequest")]
        t.check(
            statuses == ["cancelled"],
            "GW-CAN-1",
            f"MedicationRequest.status {statuses} (one MedicationRequest, cancelled)",
            "Bundle.entry.resource.ofType(MedicationRequest).status",
        )
        validation_findings(t, update, "GW-CAN-1")
        ack = msg.acknowledgement(ods, facts["message_id"], "urn:conformance")
        expect_status(t, await post_message(ctx, "provider", ack), 200, "GW-CAN-1", "ack")
    view = await prescription_view(ctx, t, sid, "GW-CAN-1")
    t.check(
        view["status"]["code"] == "0005",
        "GW-CAN-1",
        f"status {view['status']} after the provider confirmed",
        "status.code",
    )


# --- GW-ERR -----------------------------------------------------------------------------------------------------
@errors.test("GW-ERR-001", "A bad NHS number rejects that prescription alone, located", requirements=["GW-EXP-2"])
async def bad_nhs_number(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "trust", "provider")
    rows = unique_rows(2, trust_ods=party_ods(ctx, "trust"), provider_ods=party_ods(ctx, "provider"))
    bad_rx = rows[0]["RxNumber"]
    for row in rows:
        if row["RxNumber"] == bad_rx:
            row["NHSNumber"] = bad_nhs_check_digit(row["NHSNumber"])
    r = await post_export(ctx, rows)
    report = json_body(t, r, "GW-EXP-2")
    outcomes = {p["rx_number"]: p for p in report.get("prescriptions", [])}
    rejected = outcomes.get(bad_rx, {})
    t.require(
        rejected.get("outcome") == "rejected",
        "GW-EXP-2",
        f"{bad_rx} with a bad NHS number: {rejected.get('outcome')!r}",
        "NHSNumber",
    )
    located = [i for i in rejected.get("issues", []) if i.get("column") == "NHSNumber" and i.get("line") == 2]
    t.check(
        bool(located),
        "GW-EXP-2",
        f"no issue at line 2, column NHSNumber: {rejected.get('issues')}",
        "line 2, column NHSNumber",
    )
    good = [p for rx, p in outcomes.items() if rx != bad_rx]
    t.check(
        len(good) == 1 and good[0].get("outcome") == "accepted",
        "GW-EXP-2",
        f"the good prescription was not accepted: {good}",
        "prescriptions",
    )
    if good and good[0].get("short_form_id"):
        ctx.state["spare_sid"] = good[0]["short_form_id"]


@errors.test("GW-ERR-002", "Resending an export is idempotent", requirements=["GW-EXP-3"], depends=["GW-FLOW-001"])
async def resend(ctx: SuiteContext, t: TestRun) -> None:
    r = await post_export(ctx, ctx.state["rows"])
    expect_status(t, r, 200, "GW-EXP-3", "resent export")
    p = json_body(t, r, "GW-EXP-3")["prescriptions"][0]
    t.check(p.get("outcome") == "duplicate", "GW-EXP-3", f"resend outcome {p.get('outcome')!r}", "outcome")
    t.check(
        p.get("short_form_id") == ctx.state["sid"],
        "GW-EXP-3",
        f"resend got short-form id {p.get('short_form_id')!r}, first {ctx.state['sid']!r}",
        "short_form_id",
    )


@errors.test("GW-ERR-003", "Malformed FHIR gets a located OperationOutcome", requirements=["GW-ERR-1"])
async def malformed_fhir(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "provider")
    cases = (
        (
            "no MessageHeader",
            {"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": "Patient"}}]},
        ),
        ("not a Bundle", {"resourceType": "Patient"}),
    )
    for label, body in cases:
        r = await post_message(ctx, "provider", body)
        t.check(400 <= r.status_code < 500, "GW-ERR-1", f"{label}: HTTP {r.status_code}", "HTTP status")
        try:
            issues = outcome_issues(r.json())
        except ValueError:
            issues = []
        t.check(bool(issues), "GW-ERR-1", f"{label}: no OperationOutcome", "OperationOutcome")
        t.check(
            any(issue_code(i) for i in issues),
            "GW-ERR-1",
            f"{label}: no stable code in issue.details",
            "OperationOutcome.issue.details",
        )
        t.check(
            any(i.get("expression") for i in issues),
            "GW-ERR-1",
            f"{label}: no issue.expression",
            "OperationOutcome.issue.expression",
        )


@errors.test(
    "GW-ERR-004",
    "Another tenant neither sees nor changes the order",
    requirements=["GW-TEN-1"],
    depends=["GW-FLOW-002"],
)
async def cross_tenant(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "other_trust", "other_provider")
    sid, facts = ctx.state["sid"], ctx.state["facts"]
    status, orders = await release_for(ctx, t, "other_provider", sid)
    t.check(not orders, "GW-TEN-1", f"another provider was released {len(orders)} order(s)", "passedPrescriptions")
    ack = msg.acknowledgement(party_ods(ctx, "other_provider"), facts["message_id"], "urn:conformance")
    r = await post_message(ctx, "other_provider", ack)
    t.check(
        r.status_code == 404,
        "GW-TEN-1",
        f"another provider's acknowledgement answered {r.status_code}",
        "MessageHeader.response.identifier",
    )
    r = await ctx.client("other_trust").get(f"/api/v1/prescriptions/{sid}")
    t.check(
        r.status_code == 404,
        "GW-TEN-1",
        f"another trust reading the prescription got {r.status_code}",
        "/api/v1/prescriptions/{id}",
    )


@errors.test(
    "GW-ERR-005",
    "An invalid transition is refused and changes nothing",
    requirements=["GW-LIFE-1"],
    depends=["GW-ERR-001"],
)
async def invalid_transition(ctx: SuiteContext, t: TestRun) -> None:
    sid: str = ctx.state.get("spare_sid") or ""
    if not sid:
        t.skip("GW-ERR-001 left no accepted prescription")
    status, orders = await release_for(ctx, t, "provider", sid)
    t.require(len(orders) == 1, "GW-LIFE-1", f"could not release {sid} (HTTP {status})", "passedPrescriptions")
    facts, ods = msg.order_facts(orders[0]), party_ods(ctx, "provider")
    early = msg.dispense_notification(ods, facts, 1, "urn:conformance", datetime.now(UTC))
    r = await post_message(ctx, "provider", early)
    t.check(
        r.status_code == 409, "GW-LIFE-1", f"dispensing before acknowledgement answered {r.status_code}", "HTTP status"
    )
    codes = [issue_code(i) for i in outcome_issues(r.json())] if r.status_code == 409 else []
    t.check(bool(codes) and all(codes), "GW-LIFE-1", f"no stable code: {codes}", "OperationOutcome.issue.details")
    view = await prescription_view(ctx, t, sid, "GW-LIFE-1")
    t.check(view["status"]["code"] == "0001", "GW-LIFE-1", f"status changed to {view['status']}", "status.code")
    # Give the order back, so a long-lived test gateway's queue does not keep it leased.
    await post_message(
        ctx,
        "provider",
        msg.rejection(ods, facts["message_id"], "urn:conformance", [("0004", "Conformance test order")]),
    )
