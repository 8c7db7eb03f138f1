"""schemathesis against a running gateway: the operation → role table, request shapes, and the fuzz loop.

The live OpenAPI schema declares neither the bearer scheme nor request bodies (routes read the raw body
through `read_body`), so `with_declared_auth_and_bodies` supplies both where, and only where, the live schema
is silent. Without them schemathesis would send only empty bodies, and its `ignored_auth` check would have
no declared auth to probe.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.specs.openapi.checks import ignored_auth, response_schema_conformance

from gateway import lifecycle
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM
from gateway.services.deliveries import DELIVERY_STATUS_SYSTEM, NHS_NUMBER_SYSTEM, TASK_INPUT_SYSTEM

# Answer without credentials by design; everything else in the schema must refuse an anonymous request.
PUBLIC = frozenset({"GET /healthz", "GET /readyz", "GET /.well-known/jwks.json", "POST /oauth2/token"})

# The party (a key of tests/conftest.py PARTIES) whose token each authenticated operation is fuzzed with.
ROLE_FOR = {
    # operator console API (issue 9)
    "GET /api/v1/ops/overview": "operator",
    "GET /api/v1/ops/messages": "operator",
    "POST /api/v1/ops/messages/search": "operator",
    "GET /api/v1/ops/messages/{message_id}": "operator",
    "POST /api/v1/ops/messages/{message_id}/dismiss": "operator",
    "POST /api/v1/ops/replay": "operator",
    "POST /api/v1/ops/providers/{ods}/pause": "operator",
    "POST /api/v1/ops/providers/{ods}/resume": "operator",
    "POST /api/v1/exports": "trust",
    "GET /api/v1/prescriptions/{prescription_id}": "trust",
    "GET /api/v1/status-feed": "trust",
    "POST /FHIR/R4/Task/$release": "provider",
    "POST /FHIR/R4/Task": "provider",
    "POST /FHIR/R4/$process-message": "provider",
    "POST /FHIR/R4": "provider",  # FHIR batch of $process-message requests (issue 7)
    "POST /FHIR/R4/$validate": "operator",
    "POST /FHIR/R4/{resource_type}/$validate": "operator",
    "GET /FHIR/R4/metadata": "operator",
    # national homecare KPIs (issue 9): operators see every provider and trust
    "GET /api/v1/kpis": "operator",
    "GET /FHIR/R4/Task": "trust",
    "GET /FHIR/R4/Task/{task_id}": "trust",
    "PUT /FHIR/R4/Task/{task_id}": "trust",
    # observability (issue 9): the Prometheus exposition, for operators (or the HGW_METRICS_TOKEN scraper)
    "GET /metrics": "operator",
    # trust webhooks (issue 8)
    "POST /api/v1/webhooks": "trust",
    "GET /api/v1/webhooks": "trust",
    "GET /api/v1/webhooks/{webhook_id}": "trust",
    "PATCH /api/v1/webhooks/{webhook_id}": "trust",
    "DELETE /api/v1/webhooks/{webhook_id}": "trust",
    "GET /api/v1/webhooks/{webhook_id}/deliveries": "trust",
    "POST /api/v1/webhooks/{webhook_id}/replay": "trust",
    "POST /api/v1/webhooks/{webhook_id}/test": "trust",
    # routing administration (issue 7); bodies are declared by the routes themselves
    "GET /api/v1/admin/providers": "operator",
    "POST /api/v1/admin/providers": "operator",
    "PATCH /api/v1/admin/providers/{ods}": "operator",
    "POST /api/v1/admin/providers/{ods}/pause": "operator",
    "POST /api/v1/admin/providers/{ods}/resume": "operator",
    "GET /api/v1/admin/routes": "operator",
    "POST /api/v1/admin/routes": "operator",
    "PATCH /api/v1/admin/routes/{rule_id}": "operator",
    "DELETE /api/v1/admin/routes/{rule_id}": "operator",
    "GET /api/v1/admin/held": "operator",
    "GET /api/v1/admin/organisations": "operator",
    "POST /api/v1/admin/organisations": "operator",
    "POST /api/v1/admin/organisations/import": "operator",
    "GET /api/v1/admin/team-contacts": "operator",
    "PUT /api/v1/admin/team-contacts/{trust_ods}": "operator",
    "POST /api/v1/admin/held/route": "operator",
    # client lifecycle (issue 16): disabling revokes the client's tokens
    "GET /api/v1/admin/clients": "operator",
    "POST /api/v1/admin/clients/{client_id}/disable": "operator",
    "POST /api/v1/admin/clients/{client_id}/enable": "operator",
    "DELETE /api/v1/admin/clients/{client_id}": "operator",
    # invoicing (issue 20): providers bill, trusts decide, operators load prices and read spend
    "POST /FHIR/R4/Claim": "provider",
    "POST /FHIR/R4/Invoice": "provider",
    "GET /FHIR/R4/Invoice/{invoice_id}": "provider",
    "POST /api/v1/invoices": "provider",
    "GET /api/v1/invoices": "trust",
    "GET /api/v1/invoices/{invoice_id}": "trust",
    "POST /api/v1/invoices/{invoice_id}/decisions": "trust",
    "POST /api/v1/admin/prices": "operator",
    "GET /api/v1/admin/prices": "operator",
    "GET /api/v1/spend": "operator",
    # patient safety (issue 18): supply ends, missed doses and the harm a provider or trust reports
    "GET /api/v1/patients-at-risk": "operator",
    "GET /api/v1/kpis/missed-doses": "operator",
    "POST /FHIR/R4/AdverseEvent": "trust",
}

CHECKS = (not_a_server_error, response_schema_conformance, ignored_auth)

# (operation, check) pairs not asserted until the gateway is fixed, each with the request that fails it.
# Delete an entry with its fix; the test then asserts that check on that operation again.
EXCLUDED: dict[tuple[str, str], str] = {}

# Fuzzed cases per operation, on top of the coverage phase's deterministic ones (about 800 in all):
# bounded for CI; HGW_FUZZ_EXAMPLES=200 for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("HGW_FUZZ_EXAMPLES", "5"))

BEARER = "bearerAuth"
FHIR_JSON = "application/fhir+json"
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def _object(*, optional: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    """A JSON object with these properties, all required but the `optional` ones."""
    shape: dict[str, Any] = {"type": "object", "properties": properties}
    required = [name for name in properties if name not in optional]
    if required:
        shape["required"] = required
    return shape


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": 1, "maxItems": 3}


def _one_of(*values: str) -> dict[str, Any]:
    return {"enum": list(values)}


def _identifier(system: str, *values: str) -> dict[str, Any]:
    return _object(system=_one_of(system), value=_one_of(*values) if values else {"type": "string"})


def _coding(system: str, *codes: str) -> dict[str, Any]:
    return _object(system=_one_of(system), code=_one_of(*codes))


_TEXT = {"type": "string"}
_PROVIDERS = ("VNFKT", "VNCEL")

# What the readers in gateway/fhir/inbound.py and gateway/services/deliveries.py require, so that positive
# bodies get past the first check and negative mode breaks one field at a time.
_TASK = _object(
    resourceType=_one_of("Task"),
    id=_TEXT,
    businessStatus=_object(coding=_array(_coding(DELIVERY_STATUS_SYSTEM, *lifecycle.DELIVERY_STATES))),
    focus=_object(identifier=_identifier(SHORT_FORM_SYSTEM)),
    owner=_object(identifier=_identifier(ODS_SYSTEM, *_PROVIDERS)),
    input=_array(
        _object(
            type=_object(
                coding=_array(
                    _coding(TASK_INPUT_SYSTEM, "delivery-number", "scheduled-date", "delivery-window", "failure-reason")
                )
            ),
            valueInteger={"type": "integer", "minimum": 1},
            valueDate={"type": "string", "format": "date"},
            valueString=_TEXT,
            optional=("valueInteger", "valueDate", "valueString"),
        )
    ),
    executionPeriod=_object(end={"type": "string", "format": "date-time"}),
    **{"for": _object(identifier=_identifier(NHS_NUMBER_SYSTEM))},
    optional=("id", "executionPeriod", "for"),
)
_RELEASE = _object(
    resourceType=_one_of("Parameters"),
    parameter=_array(
        _object(
            name=_one_of("owner", "group-identifier", "max-count"),
            resource=_object(identifier=_array(_identifier(ODS_SYSTEM, *_PROVIDERS))),
            valueIdentifier=_identifier(SHORT_FORM_SYSTEM),
            valueInteger={"type": "integer", "minimum": 1},
            optional=("resource", "valueIdentifier", "valueInteger"),
        )
    ),
)
_MESSAGE = _object(
    resourceType=_one_of("Bundle"),
    id=_TEXT,
    type=_one_of("message"),
    entry=_array(
        _object(
            fullUrl=_TEXT,
            resource=_object(
                resourceType=_one_of("MessageHeader", "MedicationDispense", "MedicationRequest", "Task"),
                id=_TEXT,
                eventCoding=_object(code=_one_of("prescription-order", "dispense-notification", "other")),
                sender=_object(identifier=_identifier(ODS_SYSTEM, *_PROVIDERS)),
                response=_object(identifier=_TEXT, code=_one_of("ok", "transient-error", "fatal-error")),
                optional=("sender", "response"),
            ),
            optional=("fullUrl",),
        )
    ),
    optional=("id",),
)
_ANY_RESOURCE = _object(resourceType=_TEXT, id=_TEXT, optional=("id",))
_WEBHOOK = _object(
    url=_one_of("http://127.0.0.1:9/hook", "https://trust.example/hook", "ftp://x"),
    format=_one_of("fhir", "json", "xml"),
    events={"type": ["array", "null"], "items": _TEXT, "maxItems": 3},
    active={"type": "boolean"},
    optional=("events", "active"),
)
_TOKEN_FORM = _object(
    grant_type=_one_of("client_credentials", "password"),
    client_assertion_type=_one_of("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
    client_assertion=_TEXT,
)

REQUEST_BODIES: dict[str, dict[str, dict[str, Any]]] = {
    "POST /oauth2/token": {"application/x-www-form-urlencoded": _TOKEN_FORM},
    "POST /api/v1/exports": {"text/csv": {"type": "string"}, FHIR_JSON: _MESSAGE},
    "POST /FHIR/R4/$process-message": {FHIR_JSON: _MESSAGE},
    "POST /FHIR/R4/Task/$release": {FHIR_JSON: _RELEASE},
    "POST /FHIR/R4/Task": {FHIR_JSON: _TASK},
    "POST /FHIR/R4/$validate": {FHIR_JSON: _ANY_RESOURCE},
    "POST /FHIR/R4/{resource_type}/$validate": {FHIR_JSON: _ANY_RESOURCE},
    "POST /api/v1/webhooks": {"application/json": _WEBHOOK},
    "PATCH /api/v1/webhooks/{webhook_id}": {"application/json": _WEBHOOK},
}


def operation_labels(raw: dict[str, Any]) -> list[str]:
    """`METHOD /path` of every operation in an OpenAPI document."""
    return [f"{method.upper()} {path}" for path, item in raw["paths"].items() for method in item if method in _METHODS]


def with_declared_auth_and_bodies(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy of `raw` declaring bearer auth on non-public operations and the request bodies they read."""
    doc = copy.deepcopy(raw)
    schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.setdefault(BEARER, {"type": "http", "scheme": "bearer"})
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            label = f"{method.upper()} {path}"
            if label not in PUBLIC:
                op.setdefault("security", [{BEARER: []}])
            if label in REQUEST_BODIES and "requestBody" not in op:
                content = {media: {"schema": shape} for media, shape in REQUEST_BODIES[label].items()}
                op["requestBody"] = {"required": True, "content": content}
    return doc


@dataclass(frozen=True, slots=True)
class Finding:
    operation: str
    failure: str  # the schemathesis failure class, e.g. ServerError, IgnoredAuth, JsonSchemaError
    status: int
    title: str
    curl: str


def fuzz(raw: dict[str, Any], base_url: str, tokens: dict[str, str]) -> list[Finding]:
    """Run CHECKS on every operation of `raw` at `base_url`; one Finding per operation, failure and status.

    Blocking (schemathesis sends with requests): run it in a thread while the server serves on the loop.
    """
    schema = schemathesis.openapi.from_dict(with_declared_auth_and_bodies(raw), config=schemathesis.Config())
    findings: dict[tuple[str, str, int], Finding] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        role = ROLE_FOR.get(op.label)
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        checks = [c for c in CHECKS if (op.label, c.__name__) not in EXCLUDED]
        with requests.Session() as session:
            _fuzz_operation(op, base_url, headers, checks, findings, session)
    return list(findings.values())


def _fuzz_operation(
    op: schemathesis.APIOperation,
    base_url: str,
    headers: dict[str, str],
    checks: list[CheckFunction],
    findings: dict[tuple[str, str, int], Finding],
    session: requests.Session,
) -> None:
    def send(case: schemathesis.Case) -> None:
        sent = {"base_url": base_url, "headers": headers, "timeout": 30, "session": session}
        response = case.call(**sent)
        try:
            case.validate_response(response, checks=checks, headers=headers, transport_kwargs=sent)
            if 200 <= response.status_code < 300 and ignored_auth in checks:
                # Enforcement is a property of the operation: once probed on a success, probing again adds nothing.
                checks.remove(ignored_auth)
        except (Failure, FailureGroup) as exc:
            # Collected, not raised: one run reports every problem, and hypothesis spends no time shrinking.
            for failure in exc.exceptions if isinstance(exc, FailureGroup) else (exc,):
                key = (op.label, type(failure).__name__, response.status_code)
                if key not in findings:
                    shown = {"Authorization": "Bearer <token>"} if headers else None
                    findings[key] = Finding(*key, failure.title, case.as_curl_command(headers=shown, base_url=base_url))

    # The coverage phase adds schemathesis' deterministic boundary and negative cases as explicit examples;
    # the fuzzing phase then draws MAX_EXAMPLES positive and negative cases, derandomized for reproducible CI.
    # `create_test` is how schemathesis' own pytest plugin builds these; it is not public API, hence the
    # major-version pin on the dependency.
    test = create_test(
        operation=op,
        test_func=send,
        config=HypothesisTestConfig(
            project=op.schema.config,
            modes=[HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING],
            settings=settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        ),
    )
    test()
