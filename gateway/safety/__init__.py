"""Patients at risk of a missed dose (docs/patient-safety.md): the supply model, the at-risk list and its watch,
and missed doses reported as `AdverseEvent`.

Enters: the store's supply facts as of a date. Leaves: the at-risk worklist with reasons and owners, alerts, and
the missed-dose reports the KPIs count.
"""

__all__ = [
    "at_risk",
    "missed_doses",
    "supply_model",
]
