"""`POST /FHIR/R4/Task`: dispatches a provider's Task by what it is.

- `code` task-code#abort: EPS dispense withdrawal (`withdraw`)
- `code` task-code#fulfill with status rejected: EPS return (`returns`)
- `code` homecare-task-code#clinical-query or #prescription-due: a request to the trust (`queries`)
- otherwise a delivery status Task, businessStatus from homecare-delivery-status (`deliveries`)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.context import Gateway
from gateway.delivery import returns
from gateway.domain.principal import Principal
from gateway.fhir.task_fields import as_task
from gateway.lifecycle import clinical_queries as queries
from gateway.lifecycle import deliveries, withdraw


@dataclass(frozen=True, slots=True)
class TaskResult:
    kind: str  # delivery-status, dispense-withdraw, dispense-return, clinical-query, prescription-due
    text: str
    status_code: int  # 201 when something was recorded, 200 for a resend that changed nothing
    task_id: str | None = None


async def process_task(gw: Gateway, principal: Principal, task: Any) -> TaskResult:
    """Apply one Task a provider posted; the caller is always the provider it speaks for."""
    task = as_task(task)
    raw = _raw(task)
    if withdraw.is_withdrawal(task):
        applied, notification = await withdraw.withdraw_dispense(gw, principal, withdraw.read_withdrawal(task), raw)
        text = f"dispense notification {notification} " + ("withdrawn" if applied else "was already withdrawn")
        return TaskResult("dispense-withdraw", text, 201 if applied else 200)
    if returns.is_return(task):
        r = returns.read_return(task)
        applied = await returns.return_prescription(gw, principal, r, raw)
        text = f"prescription {r.short_form_id} " + ("returned" if applied else "was already returned")
        return TaskResult("dispense-return", text, 201 if applied else 200)
    if queries.is_request(task):
        req = queries.read_request(task)
        task_id, created = await queries.raise_request(gw, principal, req, raw)
        text = f"{req.kind} Task/{task_id} " + ("raised with the trust" if created else "was already raised")
        return TaskResult(req.kind, text, 201 if created else 200, task_id)
    report = deliveries.read_delivery_task(task)
    delivery, applied = await deliveries.record_delivery_status(gw, principal, report, raw)
    text = f"delivery {delivery.number} of {report.short_form_id} " + ("is " if applied else "was already ")
    return TaskResult("delivery-status", text + delivery.state, 201 if applied else 200)


def _raw(task: dict[str, Any]) -> bytes:
    return json.dumps(task, separators=(",", ":"), ensure_ascii=False).encode()
