"""The API fault campaign's settings (`ApiCampaignConfig`), its parties and the kinds of effect it checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.store.db import is_sqlite

PROVIDER_ODS = "VNAPI"
TRUST_ODS = "RBA"
SOURCE = "https://fault-campaign.example/provider"
FHIR = {"Content-Type": "application/fhir+json"}
EFFECTS = ("export", "release", "acknowledgement", "dispatch", "dispense", "delivery", "webhook")
START_SECONDS = 30.0


@dataclass(frozen=True)
class ApiCampaignConfig:
    """How the API campaign runs: its servers, kills, load and timings, and the deadline of the whole."""

    database_url: str
    data_dir: Path
    servers: int = 2
    """API server processes at a time (always 1 on SQLite)."""
    kills: int = 15
    """Random SIGKILLs by the driver, at least (the dooms add their own)."""
    kill_interval: tuple[float, float] = (1.0, 2.5)
    min_uptime: float = 1.0
    """A server is killed at random only once it has served this long (and, with two, while the other serves)."""
    doom_share: float = 0.5
    """Share of server starts that carry a doom (a self-kill at the worst moment)."""
    prescriptions: int = 30
    batch: int = 5
    trusts: int = 2
    providers: int = 2
    """Provider loops (one provider, several clients releasing and acknowledging concurrently)."""
    amend_every: int = 4
    seed: int = 11
    claim_seconds: int = 2
    """HGW_IDEMPOTENCY_CLAIM_SECONDS of the servers: how soon a dead request's key is taken over."""
    lease_seconds: int = 4
    """HGW_LEASE_SECONDS: how soon an order whose release answer was lost comes back."""
    request_timeout: float = 15.0
    drain_timeout: float = 40.0
    """The drain ends when nothing more got done for this long (or at the deadline)."""
    deadline: float = 150.0
    """Every client gives up and the campaign reports by then."""
    pg_restarts: int = 0
    """PostgreSQL restarts during the kills (pg_ctlcluster, root; it cuts every session of the cluster)."""
    webhook_refusals: float = 0.15
    """Share of webhook requests the trust's receiver answers 503 (the relay retries them)."""
    log_dir: Path | None = None

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.database_url)
