"""Why a provider rejected an order: the OperationOutcome of its `fatal-error` response message, as one line for
the trust's timeline. Only coded parts are kept (the detail code and its display, else the FHIR issue type):
timeline details go to trusts' webhooks and are kept in clear, so a provider's free text, which may name the
patient, is never copied there; the provider's words stay in the provider's system."""

from __future__ import annotations

from typing import Any

from gateway.fhir.task_fields import as_dict, as_list

_LIMIT = 500


def reason(resources: list[dict[str, Any]]) -> str | None:
    """The reason the OperationOutcome(s) of a response message give, or None when there is none."""
    parts = []
    for outcome in (r for r in resources if r.get("resourceType") == "OperationOutcome"):
        for issue in as_list(outcome.get("issue")):
            if isinstance(issue, dict):
                text = _issue(issue)
                if text:
                    parts.append(text)
    return "; ".join(parts)[:_LIMIT] or None


def _issue(issue: dict[str, Any]) -> str:
    details = as_dict(issue.get("details"))
    codings = as_list(details.get("coding"))
    coded = []
    for coding in (c for c in codings if isinstance(c, dict)):
        code, display = coding.get("code"), coding.get("display")
        if isinstance(code, str) and code:
            coded.append(f"{code[:64]} {display[:120]}" if isinstance(display, str) and display else code[:64])
    if coded:
        return ", ".join(coded)
    kind = issue.get("code")
    kind = kind[:64] if isinstance(kind, str) else ""
    has_text = any(isinstance(free, str) and free.strip() for free in (details.get("text"), issue.get("diagnostics")))
    return f"{kind or 'unspecified'} (free text not kept)" if has_text else kind
