"""What the API campaign's clients saw (`Ledger`): the effects they were told happened, and what never got an answer.

`api_campaign.check` compares it with the database once the servers have stopped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Ledger:
    """What the clients saw: each effect they were told happened, and what never got an answer."""

    exports: dict[tuple[str, int], str] = field(default_factory=dict)
    """(RxNumber, version) the trust saw accepted → its short-form id."""
    received: Counter[str] = field(default_factory=Counter)
    """Order message id → how many release answers handed it over."""
    released_after_ack: int = 0
    replayed_after_ack: int = 0
    acknowledged: set[str] = field(default_factory=set)
    dispatched: set[str] = field(default_factory=set)
    dispensed: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)
    claimed: set[str] = field(default_factory=set)
    """Short-form ids a provider loop took on to dispense and deliver (so only one does)."""
    unanswered: Counter[str] = field(default_factory=Counter)
    """Requests given up at the deadline, per kind of effect."""
    refused: Counter[str] = field(default_factory=Counter)
    """Final 4xx answers, per kind of effect and status."""
    requests: int = 0
    retries: int = 0
    retried_after: Counter[str] = field(default_factory=Counter)
    """Why requests were sent again: the transport error's class, or the status code."""
    conflicts: int = 0
    replayed: int = 0
