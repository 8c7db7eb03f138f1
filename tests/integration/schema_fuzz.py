"""schemathesis against a running gateway: the operation → role table, request shapes, and the fuzz loop.

The live OpenAPI schema declares neither the bearer scheme nor request bodies (routes read the raw body
through `read_body`), so `with_declared_auth_and_bodies` supplies both where, and only where, the live schema
is silent. Without them schemathesis would send only empty bodies, and its `ignored_auth` check would have
no declared auth to probe.
"""

from __future__ import annotations

import copy
import itertools
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response
from schemathesis.engine.errors import is_inconsistent_replay
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.checks import ignored_auth, response_schema_conformance

from gateway.domain import states as lifecycle
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM
from gateway.lifecycle.deliveries import DELIVERY_STATUS_SYSTEM, NHS_NUMBER_SYSTEM, TASK_INPUT_SYSTEM

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

# Fuzzed cases per operation, on top of the coverage phase's deterministic ones (about 2,100 in all): bounded for
# CI, where drawing them is most of the cost (5 took 9 s more than 1 of a 23 s run); HGW_FUZZ_EXAMPLES=200 for a
# deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("HGW_FUZZ_EXAMPLES", "2"))

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

# What the readers in gateway/fhir/inbound.py and gateway/lifecycle/deliveries.py require, so that positive
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


def with_declared_auth_and_bodies(
    raw: dict[str, Any], bodies: Mapping[str, Mapping[str, dict[str, Any]]] = REQUEST_BODIES
) -> dict[str, Any]:
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
            if label in bodies and "requestBody" not in op:
                content = {media: {"schema": shape} for media, shape in bodies[label].items()}
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


def _collect(
    exc: Failure | FailureGroup,
    case: schemathesis.Case,
    status: int,
    headers: Mapping[str, str],
    base_url: str,
    findings: dict[tuple[str, str, int], Finding],
) -> None:
    """Record each failure of `exc` once per (operation, failure class, status), with a curl line to replay it."""
    for failure in exc.exceptions if isinstance(exc, FailureGroup) else (exc,):
        key = (case.operation.label, type(failure).__name__, status)
        if key not in findings:
            shown = {"Authorization": "Bearer <token>"} if headers else None
            findings[key] = Finding(*key, failure.title, case.as_curl_command(headers=shown, base_url=base_url))


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
            _collect(exc, case, response.status_code, headers, base_url, findings)

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


# --- The stateful run: OpenAPI links between the operations that create a resource and those that use it ---------


@dataclass(frozen=True, slots=True)
class Link:
    """An OpenAPI link: a `source` answer with one of `statuses` feeds `target` (parameters and body fields, each a
    runtime expression such as `$response.body#/id`). What each create answers is in the route named beside it."""

    source: str
    statuses: tuple[str, ...]
    target: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, str] | None = None  # merged into the body generated for `target`


def _links(source: str, statuses: tuple[str, ...], targets: tuple[str, ...], **parameters: str) -> list[Link]:
    return [Link(source, statuses, target, parameters) for target in targets]


_WEBHOOK_USES = (
    "GET /api/v1/webhooks/{webhook_id}",
    "PATCH /api/v1/webhooks/{webhook_id}",
    "DELETE /api/v1/webhooks/{webhook_id}",
    "GET /api/v1/webhooks/{webhook_id}/deliveries",
    "POST /api/v1/webhooks/{webhook_id}/replay",
    "POST /api/v1/webhooks/{webhook_id}/test",
)
_PROVIDER_USES = (
    "PATCH /api/v1/admin/providers/{ods}",
    "POST /api/v1/admin/providers/{ods}/pause",
    "POST /api/v1/admin/providers/{ods}/resume",
    "POST /api/v1/ops/providers/{ods}/pause",
    "POST /api/v1/ops/providers/{ods}/resume",
)
_INVOICE_USES = (
    "GET /FHIR/R4/Invoice/{invoice_id}",  # the provider reads the outcome
    "GET /api/v1/invoices/{invoice_id}",  # the trust billed reads the lines
    "POST /api/v1/invoices/{invoice_id}/decisions",  # and decides on them
)

LINKS: tuple[Link, ...] = (
    # gateway/api/routes/webhooks.py: 201 with the subscription, `id`; changed (200) it is the same one; deleted
    # (204) it is gone, and reading or changing it again must be a located 404, not a 500.
    *_links("POST /api/v1/webhooks", ("201",), _WEBHOOK_USES, webhook_id="$response.body#/id"),
    *_links("PATCH /api/v1/webhooks/{webhook_id}", ("200",), _WEBHOOK_USES, webhook_id="$response.body#/id"),
    *_links(
        "DELETE /api/v1/webhooks/{webhook_id}",
        ("204",),
        ("GET /api/v1/webhooks/{webhook_id}", "PATCH /api/v1/webhooks/{webhook_id}"),
        webhook_id="$request.path.webhook_id",
    ),
    # gateway/api/routes/admin.py: a provider is 201 with `ods`; a rule 201 with `id` and needs a known provider.
    *_links("POST /api/v1/admin/providers", ("201",), _PROVIDER_USES, ods="$response.body#/ods"),
    Link(
        "POST /api/v1/admin/providers",
        ("201",),
        "POST /api/v1/admin/routes",
        body={"provider_ods": "$response.body#/ods"},
    ),
    *_links(
        "POST /api/v1/admin/routes",
        ("201",),
        ("PATCH /api/v1/admin/routes/{rule_id}", "DELETE /api/v1/admin/routes/{rule_id}"),
        rule_id="$response.body#/id",
    ),
    *_links(
        "DELETE /api/v1/admin/routes/{rule_id}",
        ("204",),
        ("PATCH /api/v1/admin/routes/{rule_id}", "DELETE /api/v1/admin/routes/{rule_id}"),
        rule_id="$request.path.rule_id",
    ),
    # gateway/api/routes/invoices.py: 201 with the new invoice (FHIR Invoice or JSON), 200 with it again on a resend;
    # both carry the gateway's invoice `id`. One link on 2XX, not one on each: the first scenario's create is 201 and
    # a later one's 200, and a link per status would make the same scenario take another path when replayed.
    *_links("POST /FHIR/R4/Invoice", ("2XX",), _INVOICE_USES, invoice_id="$response.body#/id"),
    *_links("POST /api/v1/invoices", ("2XX",), _INVOICE_USES, invoice_id="$response.body#/id"),
    # gateway/api/routes/exports.py: 200 with a report per prescription: `prescription_id` when it was taken in, and
    # `message_id`, the order message for the provider, which operators follow (and may not dismiss: not dead).
    Link(
        "POST /api/v1/exports",
        ("200",),
        "GET /api/v1/prescriptions/{prescription_id}",
        {"prescription_id": "$response.body#/prescriptions/0/prescription_id"},
    ),
    *_links(
        "POST /api/v1/exports",
        ("200",),
        ("GET /api/v1/ops/messages/{message_id}", "POST /api/v1/ops/messages/{message_id}/dismiss"),
        message_id="$response.body#/prescriptions/0/message_id",
    ),
)


def _sample_export(seed: int = 0) -> str:
    """A JAC export of one new prescription; its RxNumber (SF-{seed}-000000) is the seed's."""
    from adapters.jac.writer import render_export
    from conformance.parties.exports import export_rows

    return render_export(export_rows(1, seed=seed, rx_prefix="SF")).decode()


def _sample_bill() -> Any:
    from gateway.domain.identifiers import mod37_2_check_character
    from gateway.simulate.invoices import Bill

    short_form = "A3B5C7-A99968-4F3E2"  # not one the gateway sent: the line is reconciled as unknown-prescription
    return Bill(
        short_form + mod37_2_check_character(short_form), None, 1, "medicine", "13892511000001100", Decimal(2), 150
    )


def _sample_csv_invoice() -> str:
    from gateway.simulate.invoices import csv_invoice

    return csv_invoice("SF-CSV-1", date(2026, 12, 20), "RBA", [_sample_bill()]).decode()


def _sample_fhir_invoice() -> Any:
    import json

    from gateway.fhir.serialise import dumps_bundle
    from gateway.simulate.invoices import fhir_invoice

    return json.loads(dumps_bundle(fhir_invoice("SF-FHIR-1", date(2026, 12, 20), "VNFKT", "RBA", [_sample_bill()])))


def _closed(shape: dict[str, Any]) -> dict[str, Any]:
    """`shape` with no properties beyond those it names, at every level."""
    out = {key: value for key, value in shape.items()}
    if out.get("type") == "object":
        out["additionalProperties"] = False
        out["properties"] = {name: _closed(value) for name, value in out["properties"].items()}
    if "items" in out:
        out["items"] = _closed(out["items"])
    return out


_ODS = {"type": "string", "pattern": "^([A-Z0-9]{3}|[A-Z0-9]{5,6})$"}


def stateful_bodies() -> dict[str, dict[str, dict[str, Any]]]:
    """The request bodies of the creates that LINKS start from (and of a webhook change), in the stateful copy only:
    narrowed to what the gateway takes (a sample JAC export, CSV and FHIR invoice; valid ODS codes and closed
    objects), since a link is followed only from a resource that was created. These replace what the live schema
    declares for these operations; the stateless run fuzzes the declared shapes."""
    return {
        "POST /api/v1/exports": {"text/csv": {"enum": [_sample_export()]}},
        "POST /api/v1/invoices": {"text/csv": {"enum": [_sample_csv_invoice()]}},
        "POST /FHIR/R4/Invoice": {FHIR_JSON: {"enum": [_sample_fhir_invoice()]}},
        "POST /api/v1/webhooks": {
            "application/json": _closed(
                _object(
                    url=_one_of("http://127.0.0.1:9/hook", "https://trust.example/hook"),
                    format=_one_of("fhir", "json"),
                    active={"type": "boolean"},
                    optional=("active",),
                )
            )
        },
        "PATCH /api/v1/webhooks/{webhook_id}": {"application/json": _closed(_WEBHOOK)},
        "POST /api/v1/admin/providers": {
            "application/json": _object(
                ods=_ODS,
                name={"type": "string", "pattern": "^[A-Za-z][A-Za-z ]{0,40}$"},
                mode=_one_of("pull", "push"),
                endpoint=_one_of("https://provider.example/fhir"),  # push providers need one
            )
            | {"additionalProperties": False}
        },
        "POST /api/v1/admin/routes": {
            "application/json": _object(
                provider_ods=_one_of(*_PROVIDERS),  # a link puts the ODS code of a provider just created here
                trust_ods={"enum": [None, "RBA", "RHM"]},
                dmd_code={"enum": [None, "13892511000001100"]},
                service_type={"enum": [None, "DELIVERY"]},
                priority={"type": "integer", "minimum": 1, "maximum": 1000},
                optional=("trust_ods", "dmd_code", "service_type", "priority"),
            )
            | {"additionalProperties": False}
        },
    }


def _operation_ids(doc: dict[str, Any]) -> dict[str, str]:
    return {
        f"{method.upper()} {path}": op["operationId"]
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in _METHODS
    }


def with_declared_links(raw: dict[str, Any]) -> dict[str, Any]:
    """`with_declared_auth_and_bodies`, the bodies of `stateful_bodies`, and LINKS on their sources' responses.

    A status (range) a link starts from that the live schema does not declare (2XX for invoices, which answer 201 on
    a create) is declared with the operation's 200 body, so `response_schema_conformance` holds it to that shape.
    """
    doc = with_declared_auth_and_bodies(raw)
    for label, content in stateful_bodies().items():
        method, path = label.split(" ", 1)
        shapes = {media: {"schema": shape} for media, shape in content.items()}
        doc["paths"][path][method.lower()]["requestBody"] = {"required": True, "content": shapes}
    ids = _operation_ids(doc)
    for link in LINKS:
        method, path = link.source.split(" ", 1)
        responses = doc["paths"][path][method.lower()]["responses"]
        for status in link.statuses:
            response = responses.setdefault(status, copy.deepcopy(responses.get("200", {"description": status})))
            definition: dict[str, Any] = {"operationId": ids[link.target]}
            if link.parameters:
                definition["parameters"] = dict(link.parameters)
            if link.body is not None:
                definition["requestBody"] = dict(link.body)
            response.setdefault("links", {})[ids[link.target]] = definition
    return doc


# Scenarios and steps per scenario of the stateful run, bounded for CI (HGW_STATEFUL_EXAMPLES=200 by hand).
STATEFUL_EXAMPLES = int(os.environ.get("HGW_STATEFUL_EXAMPLES", "50"))
STATEFUL_STEPS = 10
# positive, or all (HGW_STATEFUL_MODE=all: negative cases too, along the links, for a deeper run by hand)
STATEFUL_MODE = os.environ.get("HGW_STATEFUL_MODE", "positive")
# Runs of the state machine (each a hypothesis "suite") that may be started to use up STATEFUL_EXAMPLES.
STATEFUL_SUITES = 6


@dataclass(slots=True)
class StatefulRun:
    """What the stateful run found, how often each link was followed (its value used) and landed (2xx), every
    request it sent by operation and answer, and how many scenarios and suites that took."""

    findings: list[Finding]
    followed: Counter[str] = field(default_factory=Counter)
    landed: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)  # "METHOD /path status"
    scenarios: int = 0
    suites: int = 0


def fuzz_stateful(raw: dict[str, Any], base_url: str, tokens: dict[str, str]) -> StatefulRun:
    """Run schemathesis' state machine over LINKS at `base_url`, each request with its operation's role's token.

    Only LINKS connect operations (schemathesis' own link inference is off), so every chain is one declared here.
    Blocking, like `fuzz`: run it in a thread while the server serves on the loop.

    The server keeps what every scenario did, so a scenario hypothesis replays can take another path (a resource
    the first pass created is there already); hypothesis then stops the suite as flaky. schemathesis' own runner
    ends the suite there and starts another; so does this, with the next fixed seed, until STATEFUL_EXAMPLES
    scenarios have run or STATEFUL_SUITES suites have started.
    """
    # Positive cases by default: the stateless run sends the negative ones, and a chain needs its creates to succeed.
    stateful = {"inference": {"algorithms": []}, "generation": {"mode": STATEFUL_MODE}}
    config = schemathesis.Config.from_dict({"phases": {"stateful": stateful}})
    schema = schemathesis.openapi.from_dict(with_declared_links(raw), config=config)
    run = StatefulRun([])
    findings: dict[tuple[str, str, int], Finding] = {}
    checks_for: dict[str, list[CheckFunction]] = {}
    fresh_ods = (f"SF{n:04d}" for n in itertools.count(1))
    fresh_exports = itertools.count(1)
    session = requests.Session()

    def headers_for(label: str) -> dict[str, str]:
        role = ROLE_FOR.get(label)
        return {"Authorization": f"Bearer {tokens[role]}"} if role else {}

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        """The generated state machine, authenticated per operation; failures collected, not raised."""

        def before_call(self, case: schemathesis.Case) -> None:
            # A provider's ODS code is unique: a second create with one would answer 409 where a replay of the
            # scenario answered 201. Each create gets a new code, so a create answers the same on every pass.
            if case.operation.label == "POST /api/v1/admin/providers" and isinstance(case.body, dict):
                case.body["ods"] = next(fresh_ods)
            # An export sent again is a duplicate, answered without the order's message id: each is a new one.
            if case.operation.label == "POST /api/v1/exports" and isinstance(case.body, str):
                case.body = _sample_export(next(fresh_exports))

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            headers = headers_for(case.operation.label)
            return {"base_url": base_url, "headers": headers, "timeout": 30, "session": session}

        def step(self, input: StepInput) -> StepOutput:
            output: StepOutput = super().step(input)
            run.calls[f"{output.case.operation.label} {output.response.status_code}"] += 1
            if input.transition is not None and input.is_applied:
                name = f"{input.transition.id.split(' -> ')[0]} → {output.case.operation.label}"
                run.followed[name] += 1
                if 200 <= output.response.status_code < 300:
                    run.landed[name] += 1
            return output

        def validate_response(
            self,
            response: Response,
            case: schemathesis.Case,
            additional_checks: list[CheckFunction] | None = None,
            **kwargs: Any,
        ) -> None:
            label = case.operation.label
            checks = checks_for.setdefault(label, [c for c in CHECKS if (label, c.__name__) not in EXCLUDED])
            headers = kwargs.get("headers") or {}
            try:
                case.validate_response(
                    response, checks=checks, headers=headers, transport_kwargs=kwargs, recorder=self.recorder
                )
                if 200 <= response.status_code < 300 and ignored_auth in checks:
                    checks.remove(ignored_auth)  # as in `fuzz`: probed once on a success per operation
            except (Failure, FailureGroup) as exc:
                _collect(exc, case, response.status_code, headers, base_url, findings)

        def teardown(self) -> None:
            run.scenarios += 1
            super().teardown()

    with session:
        while run.scenarios < STATEFUL_EXAMPLES and run.suites < STATEFUL_SUITES:
            suite = hypothesis.seed(run.suites)(Workflow) if run.suites else Workflow
            run.suites += 1
            try:
                suite.run(
                    settings=settings(
                        max_examples=STATEFUL_EXAMPLES - run.scenarios,
                        stateful_step_count=STATEFUL_STEPS,
                        deadline=None,
                        derandomize=True,
                        database=None,
                        phases=[Phase.generate],
                        suppress_health_check=list(HealthCheck),
                    )
                )
            except Exception as exc:
                if not (isinstance(exc, Flaky) or is_inconsistent_replay(exc)):
                    raise
    run.findings = list(findings.values())
    return run
