"""The canonical domain: one model of a homecare prescription whatever format it came in, its identifiers, the
state machines of prescriptions, line items and deliveries (`states`) and of outbox messages (`outbox`), the
routing rule, who is calling (`principal`) and why a patient is at risk (`risk_reasons`). Pure: no I/O, no store.
"""

__all__ = [
    "directory",
    "identifiers",
    "model",
    "outbox",
    "output_formats",
    "principal",
    "risk_reasons",
    "routing",
    "states",
]
