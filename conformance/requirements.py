"""The requirements catalogue: every requirement a conformance test checks, its level and where it is written.

Sources: `DESIGN §n` is the numbered step of "The flow" in ../shared/DESIGN.md ("Public contract" and
"Bad input" are its sections); `specs/<file>#<section>` the trust interface specifications; `profile:` a
StructureDefinition in fhir_profiles/; `docs/…` this repository's documentation.
"""

from __future__ import annotations

from conformance.model import Level, Requirement

_ROWS: tuple[tuple[str, Level, str, str], ...] = (
    # --- the gateway ----------------------------------------------------------------------------------------------
    (
        "GW-AUTH-1",
        "SHALL",
        "Non-public endpoints refuse a caller without a bearer token (401, WWW-Authenticate).",
        "DESIGN Public contract; docs/api-testing.md",
    ),
    (
        "GW-AUTH-2",
        "SHALL",
        "POST /oauth2/token issues a bearer token for a private_key_jwt client assertion.",
        "DESIGN Public contract (POST /oauth2/token)",
    ),
    (
        "GW-META-1",
        "SHALL",
        "GET /FHIR/R4/metadata returns a CapabilityStatement as application/fhir+json.",
        "DESIGN Public contract",
    ),
    (
        "GW-META-2",
        "SHALL",
        "POST /FHIR/R4/$validate returns an OperationOutcome: no error for a conforming "
        "resource, located errors (issue.expression) for a non-conforming one.",
        "DESIGN §4; DESIGN Public contract",
    ),
    ("GW-META-3", "SHALL", "GET /.well-known/jwks.json publishes the gateway's signing keys.", "DESIGN §5"),
    (
        "GW-EXP-1",
        "SHALL",
        "An export is answered per prescription with its outcome and a short-form id whose "
        "MOD 37-2 check character is valid.",
        "DESIGN §1, §3",
    ),
    (
        "GW-EXP-2",
        "SHALL",
        "A bad prescription is rejected on its own with a located error (line, column); the "
        "good ones in the same file go through.",
        "DESIGN Bad input; specs/jac-homecare-export.md#What the gateway does with a file",
    ),
    (
        "GW-EXP-3",
        "SHALL",
        "Resending the same export changes nothing: each prescription is a duplicate with the same ids.",
        "DESIGN §6; DESIGN Bad input",
    ),
    (
        "GW-EXP-4",
        "SHALL",
        "Each inbound format is accepted: Ascribe XML exports (POST /api/v1/exports) and EPS FHIR "
        "prescription-order messages (POST /FHIR/R4/$process-message), besides JAC CSV.",
        "DESIGN §1, §2; DESIGN Public contract; specs/ascribe-homecare-export.md#Document",
    ),
    (
        "GW-REL-1",
        "SHALL",
        "Task/$release hands the provider its orders as EPS-shaped prescription-order message "
        "Bundles that validate against fhir_profiles.",
        "DESIGN §3, §4, §6; profile: homecare prescription-order",
    ),
    (
        "GW-REL-2",
        "SHALL",
        "Every outbound bundle carries a Provenance whose detached JWS verifies against the published JWKS.",
        "DESIGN §5",
    ),
    (
        "GW-EPS-1",
        "SHALL",
        "Every prescription-order a provider receives is one EPS's own coordinator accepts: each rule of its "
        "validation and FHIR → HL7 v3 translation that applies (gateway.fhir.eps_acceptance, each rule naming the "
        "EPS file it restates).",
        "DESIGN EPS fidelity; docs/eps-acceptance.md",
    ),
    ("GW-REL-3", "SHALL", "An order under lease is not handed out again while the lease holds.", "DESIGN §6"),
    ("GW-ACK-1", "SHALL", "An ok response message moves the prescription to 0002 With Dispenser.", "DESIGN §6, §7"),
    (
        "GW-STATUS-1",
        "SHALL",
        "Delivery status Tasks are accepted (201) and show on the prescription.",
        "DESIGN §7; profile: homecare delivery Task",
    ),
    (
        "GW-STATUS-2",
        "SHALL",
        "Dispense notifications are accepted; the last delivery makes the prescription 0006 Dispensed.",
        "DESIGN §7",
    ),
    (
        "GW-STATUS-3",
        "SHALL",
        "GET /FHIR/R4/Task?focus:identifier=… returns the prescription's tracker Tasks.",
        "DESIGN Public contract; DESIGN §8",
    ),
    ("GW-STATUS-4", "SHALL", "GET /api/v1/status-feed returns the calling trust's status changes.", "DESIGN §8"),
    (
        "GW-CAN-1",
        "SHALL",
        "A cancel of an order the provider has is sent to it as EPS prescription-order-updates, one per line item "
        "(each carrying that line's MedicationRequest, cancelled), that validate, and completes (0005 Cancelled) "
        "when the provider has acknowledged every one.",
        "DESIGN §3, §7; specs/jac-homecare-export.md#What the gateway does with a file",
    ),
    (
        "GW-ERR-1",
        "SHALL",
        "Bad FHIR input is answered with an OperationOutcome carrying a stable code and the expression of the problem.",
        "DESIGN Public contract; DESIGN Bad input",
    ),
    (
        "GW-TEN-1",
        "SHALL",
        "A caller never sees or changes another tenant's data (answered as not found).",
        "DESIGN Bad input",
    ),
    (
        "GW-LIFE-1",
        "SHALL",
        "An invalid lifecycle transition is refused (409, stable code) and changes nothing.",
        "DESIGN §7",
    ),
    # --- a homecare provider --------------------------------------------------------------------------------------
    (
        "PRV-MSG-1",
        "SHALL",
        "$process-message answers a prescription-order with a FHIR response message "
        "(application/fhir+json Bundle of type message) that validates against fhir_profiles.",
        "DESIGN §6; docs/delivery.md#What an answer means",
    ),
    (
        "PRV-MSG-2",
        "SHALL",
        "MessageHeader.response.identifier of the answer is the order's MessageHeader.id.",
        "DESIGN §6; docs/delivery.md#What an answer means",
    ),
    (
        "PRV-MSG-3",
        "SHALL",
        "MessageHeader.response.code is ok, transient-error or fatal-error.",
        "docs/delivery.md#What an answer means; FHIR R4 MessageHeader",
    ),
    ("PRV-MSG-4", "SHOULD", "A conforming order is acknowledged ok.", "DESIGN §6"),
    (
        "PRV-IDEM-1",
        "SHALL",
        "A resend with the same MessageHeader.id is answered like the first (receivers deduplicate on it).",
        "DESIGN §6",
    ),
    (
        "PRV-BAD-1",
        "SHALL",
        "An order that does not validate is never acknowledged ok: fatal-error with an "
        "OperationOutcome (or a 4xx OperationOutcome).",
        "DESIGN §4, §6; DESIGN Bad input",
    ),
    (
        "PRV-BAD-2",
        "SHOULD",
        "The OperationOutcome locates the problem (issue.expression or diagnostics).",
        "DESIGN Bad input",
    ),
    (
        "PRV-CAN-1",
        "SHALL",
        "A prescription-order-update (cancellation) is acknowledged with a response message identifying it.",
        "DESIGN §3, §7 (cancellation follows EPS)",
    ),
    (
        "PRV-PULL-1",
        "SHALL",
        "A polling provider calls Task/$release with owner = its ODS code.",
        "DESIGN §6; DESIGN Public contract",
    ),
    (
        "PRV-PULL-2",
        "SHALL",
        "A polling provider acknowledges each released order with a response message whose "
        "response.identifier is the order's MessageHeader.id.",
        "DESIGN §6",
    ),
    (
        "PRV-PULL-3",
        "SHOULD",
        "A provider reports delivery status with delivery Tasks that validate and focus on the order's short-form id.",
        "DESIGN §7; profile: homecare delivery Task",
    ),
    (
        "PRV-PULL-4",
        "SHOULD",
        "A provider's dispense-notification validates against fhir_profiles.",
        "DESIGN §7; profile: EPS dispense-notification",
    ),
    (
        "PRV-AUTH-1",
        "SHALL",
        "A polling provider gets its token with a private_key_jwt client assertion whose aud is the token URL.",
        "DESIGN Public contract (POST /oauth2/token)",
    ),
    (
        "PRV-BILL-1",
        "SHALL",
        "A claim or invoice a provider sends (billing through the gateway is optional) is one the gateway accepts: an "
        "EPS dispensing Claim that EPS's rules accept, a FHIR Invoice or a CSV invoice whose figures add up.",
        "DESIGN §11; docs/invoicing.md; EPS coordinator claim-validator.ts",
    ),
    (
        "PRV-BILL-2",
        "SHOULD",
        "Each billed line names the order's prescription (short-form id) and a line item of it, for no more than the "
        "order's quantity per delivery.",
        "DESIGN §11; docs/invoicing.md#Reconciliation",
    ),
    # --- a trust system -------------------------------------------------------------------------------------------
    (
        "TRU-FMT-1",
        "SHALL",
        "The payload is one of the supported formats and is well formed at file level.",
        "DESIGN §1, §2; specs/jac-homecare-export.md#File; specs/ascribe-homecare-export.md#Document; "
        "specs/hl7v2-homecare-order.md#Message",
    ),
    (
        "TRU-ID-NHS",
        "SHALL",
        "Every NHS number passes the Modulus 11 check.",
        "specs/jac-homecare-export.md#Prescription level; specs/ascribe-homecare-export.md#Rules; "
        "specs/hl7v2-homecare-order.md#Rules",
    ),
    (
        "TRU-ID-SFID",
        "SHALL",
        "Every short-form prescription id carries a valid MOD 37-2 check character.",
        "DESIGN §3; EPS prescription-order-number",
    ),
    (
        "TRU-ID-DMD",
        "SHALL",
        "Every medicine is a valid dm+d (SNOMED CT) code.",
        "specs/jac-homecare-export.md#Item level; DESIGN §3",
    ),
    (
        "TRU-RX-1",
        "SHALL",
        "Every prescription has its required fields with valid values.",
        "specs/jac-homecare-export.md#Columns; specs/ascribe-homecare-export.md#Prescription; "
        "specs/hl7v2-homecare-order.md#Segments",
    ),
    (
        "TRU-RX-2",
        "SHALL",
        "Every accepted prescription maps to a prescription-order Bundle that validates against fhir_profiles.",
        "DESIGN §3, §4",
    ),
    (
        "TRU-FHIR-1",
        "SHALL",
        "A FHIR message from the trust validates against fhir_profiles.",
        "DESIGN §2 (EPS bundles as they are), §4",
    ),
    (
        "TRU-LIVE-1",
        "SHALL",
        "The trust system delivers to the endpoint it was given, with the correlation token, within the timeout.",
        "docs/conformance.md#Trust",
    ),
    (
        "TRU-LIVE-2",
        "SHALL",
        "The Content-Type is a supported media type (text/csv, application/xml, "
        "x-application/hl7-v2+er7, application/fhir+json).",
        "DESIGN Public contract (POST /api/v1/exports)",
    ),
    ("TRU-LIVE-3", "SHOULD", "The request carries a bearer token.", "DESIGN Public contract (POST /oauth2/token)"),
)

CATALOGUE: dict[str, Requirement] = {row[0]: Requirement(*row) for row in _ROWS}


def requirement_for_issue(code: str, *, file_level: bool = False) -> str:
    """The trust requirement an adapter or validator issue code breaks."""
    if file_level:
        return "TRU-FMT-1"
    if "NHS_NUMBER" in code:
        return "TRU-ID-NHS"
    if code in ("INVALID_SHORT_FORM_ID", "INVALID_PRESCRIPTION_ID"):
        return "TRU-ID-SFID"
    if "DMD" in code or "SNOMED" in code:
        return "TRU-ID-DMD"
    return "TRU-RX-1"
