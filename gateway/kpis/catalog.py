"""The national homecare KPIs as measures: ids, scoring, groups and what each population counts.

One table feeds everything that names a KPI: the JSON and CSV reports, the FHIR MeasureReports, and the FHIR
Measure definitions in `fhir_profiles/Measure/` (written from this table by `python -m gateway.kpis.measure_reports`; a
test keeps them in sync). The prose definitions, with the edge cases, are in docs/kpis.md.
"""

from __future__ import annotations

from dataclasses import dataclass

MEASURE_BASE = "https://fhir.homecaregateway.uk/Measure/"
VERSION = "1.0.0"

# http://terminology.hl7.org/CodeSystem/measure-population
INITIAL = "initial-population"
DENOMINATOR = "denominator"
DENOMINATOR_EXCLUSION = "denominator-exclusion"
NUMERATOR = "numerator"
MEASURE_POPULATION = "measure-population"
MEASURE_POPULATION_EXCLUSION = "measure-population-exclusion"


@dataclass(frozen=True, slots=True)
class Population:
    code: str
    criteria: str


@dataclass(frozen=True, slots=True)
class Group:
    code: str
    description: str
    populations: tuple[Population, ...]
    unit: str | None = None  # the score's unit (UCUM); None: a cohort, counted only


@dataclass(frozen=True, slots=True)
class Measure:
    id: str
    title: str
    scoring: str  # proportion, ratio, continuous-variable or cohort
    improvement: str | None  # increase or decrease; None for a count
    description: str
    groups: tuple[Group, ...]

    @property
    def url(self) -> str:
        return MEASURE_BASE + self.id

    def group(self, code: str) -> Group:
        return next(g for g in self.groups if g.code == code)


_ORDERS = Population(INITIAL, "Prescription orders received by the gateway in the month and routed to a provider.")
_ACKED = Population(MEASURE_POPULATION, "Those the provider acknowledged (first 'ok' response to the order).")
_NOT_ACKED = Population(
    MEASURE_POPULATION_EXCLUSION, "Those cancelled or rejected before any acknowledgement, or still unacknowledged."
)
_NEW = Population(
    MEASURE_POPULATION,
    "Patients new to the provider (first acknowledged prescription for the NHS-number blind index with that "
    "provider) whose first delivery was made in the month.",
)
_DELIVERY_OUTCOMES = Population(
    DENOMINATOR, "Delivery outcomes reported in the month: deliveries made, failed and returned."
)
_PRESCRIPTIONS = Population(DENOMINATOR, "Prescriptions (versions) received in the month and routed to a provider.")


def _failed(party: str, who: str) -> Group:
    return Group(
        party,
        f"Failed or returned deliveries attributable to {who}, per 100 delivery outcomes.",
        (_DELIVERY_OUTCOMES, Population(NUMERATOR, f"Failed or returned deliveries attributable to {who}.")),
        "%",
    )


def _rate(code: str, what: str, criteria: str) -> Group:
    populations = (Population(NUMERATOR, criteria), _PRESCRIPTIONS)
    return Group(code, f"{what} per 100 prescriptions received.", populations, "%")


MEASURES: tuple[Measure, ...] = (
    Measure(
        "hgw-kpi-acknowledgement-time",
        "Prescription received to acknowledged by the provider",
        "continuous-variable",
        "decrease",
        "Hours from the gateway receiving a prescription to the provider acknowledging its order, for the orders "
        "received in the month: median and 90th percentile (nearest rank).",
        (
            Group("median", "Median hours to acknowledgement.", (_ORDERS, _ACKED, _NOT_ACKED), "h"),
            Group("p90", "90th percentile hours to acknowledgement.", (_ORDERS, _ACKED, _NOT_ACKED), "h"),
        ),
    ),
    Measure(
        "hgw-kpi-acknowledgement-within-target",
        "Prescriptions acknowledged within the target",
        "proportion",
        "increase",
        "Percentage of the orders received in the month that the provider acknowledged within the target hours; "
        "an order still unacknowledged when its target has passed counts as missed.",
        (
            Group(
                "within-target",
                "Percentage acknowledged within the target.",
                (
                    _ORDERS,
                    Population(
                        DENOMINATOR_EXCLUSION,
                        "Orders cancelled or rejected before acknowledgement, and orders still unacknowledged whose "
                        "target has not yet passed.",
                    ),
                    Population(DENOMINATOR, "The orders received in the month, less the exclusions."),
                    Population(NUMERATOR, "Those acknowledged no later than the target hours after receipt."),
                ),
                "%",
            ),
        ),
    ),
    Measure(
        "hgw-kpi-first-delivery-time",
        "New patient to first delivery",
        "continuous-variable",
        "decrease",
        "Calendar days (UK) from the receipt of a new patient's first acknowledged prescription with a provider to "
        "their first delivery, for the first deliveries made in the month: median and 90th percentile.",
        (
            Group("median", "Median days to the first delivery.", (_NEW,), "d"),
            Group("p90", "90th percentile days to the first delivery.", (_NEW,), "d"),
        ),
    ),
    Measure(
        "hgw-kpi-new-patients-waiting",
        "New patients waiting for their first delivery",
        "cohort",
        "decrease",
        "New patients whose first acknowledged prescription arrived before the end of the month (or now) and who "
        "had no delivery by then.",
        (
            Group(
                "waiting",
                "New patients still waiting for their first delivery.",
                (Population(INITIAL, "New patients with no delivery yet at the end of the month (or now)."),),
            ),
        ),
    ),
    Measure(
        "hgw-kpi-on-time-delivery",
        "Deliveries made on the agreed date",
        "proportion",
        "increase",
        "Percentage of the deliveries made in the month (UK date of delivery) that were made on the date agreed for "
        "them (the latest scheduled date the provider reported).",
        (
            Group(
                "on-agreed-date",
                "Percentage of deliveries made on the agreed date.",
                (
                    Population(INITIAL, "Deliveries made in the month."),
                    Population(DENOMINATOR_EXCLUSION, "Deliveries made with no agreed date reported."),
                    Population(DENOMINATOR, "Deliveries made in the month with an agreed date."),
                    Population(NUMERATOR, "Those made on the agreed date."),
                ),
                "%",
            ),
        ),
    ),
    Measure(
        "hgw-kpi-failed-deliveries",
        "Failed deliveries by attributable party",
        "proportion",
        "decrease",
        "Failed and returned deliveries reported in the month per 100 delivery outcomes, in all and by the party "
        "the failure reason is attributable to (homecare-failed-delivery-reason).",
        (
            _failed("all", "anyone"),
            _failed("provider", "the provider"),
            _failed("patient", "the patient"),
            _failed("trust", "the trust"),
            _failed("unattributed", "nobody named (reason 'other' or none given)"),
        ),
    ),
    Measure(
        "hgw-kpi-patients-at-risk",
        "Patients at risk of a missed dose",
        "cohort",
        "decrease",
        "Patients (per provider) whose supply runs out within the horizon from the as-of date and who have no "
        "delivery booked to arrive by then. Measured for the current month only, as of today.",
        (
            Group(
                "at-risk",
                "Patients at risk of a missed dose.",
                (Population(INITIAL, "Patients whose supply ends in the horizon with no delivery booked before."),),
            ),
        ),
    ),
    Measure(
        "hgw-kpi-prescriptions-at-risk",
        "Prescriptions at risk",
        "cohort",
        "decrease",
        "Prescriptions whose supply runs out within the horizon from the as-of date with no valid prescription to "
        "follow (none live with deliveries still to make). Measured for the current month only, as of today.",
        (
            Group(
                "at-risk",
                "Prescriptions running out with no valid prescription to follow.",
                (Population(INITIAL, "Supplies ending in the horizon with no live prescription to follow."),),
            ),
        ),
    ),
    Measure(
        "hgw-kpi-cancellations",
        "Cancellations",
        "ratio",
        "decrease",
        "Prescriptions cancelled in the month (not counting versions replaced by an amendment) per 100 prescriptions "
        "received in the month; amendments are reported alongside.",
        (
            _rate("cancellations", "Cancellations", "Prescriptions cancelled in the month, amendments excluded."),
            _rate("amendments", "Amendments", "Prescription versions cancelled in the month by an amendment."),
        ),
    ),
    Measure(
        "hgw-kpi-returns",
        "Returns",
        "ratio",
        "decrease",
        "Prescriptions returned by the provider (EPS return) in the month per 100 prescriptions received.",
        (_rate("returns", "Returns", "EPS returns recorded in the month."),),
    ),
    Measure(
        "hgw-kpi-clinical-queries",
        "Clinical queries",
        "ratio",
        "decrease",
        "Clinical queries raised by providers in the month per 100 prescriptions received.",
        (_rate("clinical-queries", "Clinical queries", "Clinical queries raised in the month."),),
    ),
)

BY_ID = {m.id: m for m in MEASURES}
