"""One validated settings object from `HGW_` environment variables, built by `load_settings()`."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Gateway configuration. Every field is `HGW_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="HGW_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("./data"), description="where the SQLite file and generated keys live")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under data_dir")
    # PostgreSQL connections of this process: pool size + overflow, times every process, within the server's
    # max_connections or PgBouncer's max_client_conn (docs/scale-out.md, "Connection budget").
    db_pool_size: int = Field(default=10, ge=1, le=500, description="connections kept open by this process")
    db_max_overflow: int = Field(default=10, ge=0, le=500, description="connections opened beyond the pool at peak")
    db_pgbouncer: bool = Field(
        default=False,
        description="the database URL is PgBouncer in transaction mode: no server-side prepared statements",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="public URL of this gateway: the audience of client assertions and MessageHeader.source "
        "(required by `hgw serve` outside demo mode)",
    )
    mode: Literal["production", "demo", "test"] = "production"
    data_key: str | None = Field(
        default=None, description="base64 AES-256 key for data at rest; generated on first start if unset"
    )
    index_key: str | None = Field(default=None, description="base64 key for the NHS-number blind index (with data_key)")
    eps_trust_anchors: Path | None = Field(
        default=None, description="PEM file of CA certificates that inbound EPS prescriber signatures must chain to"
    )
    eps_signature_policy: Literal["reject", "flag"] = Field(
        default="flag", description="reject EPS orders whose prescriber signature is not verified, or accept and flag"
    )
    mllp_port: int | None = Field(
        default=None, ge=0, le=65535, description="HL7 v2 MLLP listener port (off when unset)"
    )
    mllp_host: str = Field(default="127.0.0.1", description="interface of the MLLP listener")
    mllp_trust_ods: str | None = Field(default=None, description="the trust the MLLP listener acts for")
    provider_tls_dir: Path | None = Field(
        default=None, description="client certificates for providers that require mTLS: <dir>/<ODS>/client.crt|.key"
    )
    lease_seconds: int = Field(default=300, ge=1, le=86400, description="visibility timeout of a released order")
    release_max: int = Field(default=50, ge=1, le=1000, description="most orders one $release hands out")
    push_workers: int = Field(
        default=1, ge=0, le=64, description="push delivery workers in this process (0: no push delivery here)"
    )
    webhook_workers: int = Field(
        default=1, ge=0, le=64, description="trust webhook delivery workers in this process (0: none here)"
    )
    webhook_poll_seconds: float = Field(
        default=1.0, ge=0.01, le=60, description="how long an idle webhook worker waits before looking again"
    )
    webhook_lease_seconds: int = Field(
        default=60, ge=2, le=3600,
        description="how long a webhook worker holds an event it is sending: one cut off by a crash is sent again "
        "after this (and a prescription's later events wait for it); well over the 10 s a receiver has to answer",
    )
    trusted_proxies: str | None = Field(
        default=None,
        description="comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed "
        "(per-address rate limits); nobody's when unset",
    )
    outbound_allow_cidrs: str | None = Field(
        default=None,
        description="comma-separated private ranges that provider endpoints, webhooks and JWKS URLs may resolve to "
        "(e.g. an HSCN range); otherwise only public addresses",
    )
    outbound_allow_loopback: bool = Field(
        default=False, description="allow http and loopback addresses for outbound URLs (always on in demo mode)"
    )
    token_seconds: int = Field(default=300, ge=30, le=3600, description="lifetime of issued access tokens")
    token_purge_seconds: int = Field(
        default=300, ge=0, description="how often used assertion ids and expired tokens are deleted (0: not here)"
    )
    rate_per_minute: int = Field(default=1200, ge=1, description="requests per minute per client (per process)")
    rate_burst: int = Field(default=300, ge=1, description="requests a client may make at once")
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    shutdown_grace_seconds: int = Field(
        default=10, ge=1, le=600, description="on SIGTERM, how long in-flight requests may finish before the exit"
    )
    request_cpu_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="CPU a request may spend parsing, mapping and masking (else 422)"
    )
    isolate_above_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description="during a request, an export this size or larger is handled in its own process (docs/limits.md)",
    )
    ingest_workers: int = Field(
        default=1,
        ge=0,
        le=64,
        description="processes planning a large export (0: one per core; 1, the default: a worker thread)",
    )
    ingest_parallel_from: int = Field(
        default=500, ge=1, description="an export of this many prescriptions or more is planned by `ingest_workers`"
    )
    isolated_memory_mb: int = Field(
        default=4096, ge=512, description="address space a process handling one heavy export may use (else 422)"
    )
    default_provider_ods: str | None = Field(default=None, description="seeded as the default routing rule")
    log_level: str = "INFO"
    invoice_vat_rates: str = Field(
        default="medicine=0,service=20",
        description="expected VAT percent by kind of invoice line (docs/invoicing.md); another rate is a vat-mismatch",
    )

    # --- observability and alerts (docs/observability.md) ---
    metrics_token: str | None = Field(
        default=None, description="bearer token a Prometheus scraper presents on GET /metrics (or an operator's)"
    )
    worker_stale_seconds: int = Field(
        default=120, ge=5, description="a worker without a heartbeat for this long makes /readyz answer 503"
    )
    audit_sequence_seconds: float = Field(
        default=0.5, ge=0, description="how often this process chains pending audit entries (0: not in this process)"
    )
    audit_head_seconds: float = Field(default=60, ge=0, description="the sequencer signs the chain's head this often")
    audit_max_unsequenced_seconds: float = Field(
        default=60, ge=0, description="an audit entry waiting this long to be chained is an alert (0: off)"
    )
    alert_interval_seconds: int = Field(
        default=60, ge=0, description="how often this process evaluates the alert rules (0: not in this process)"
    )
    alert_queue_age_minutes: float = Field(default=60, ge=0, description="oldest waiting message this old (0: off)")
    alert_dead_letters: float = Field(default=1, ge=0, description="this many dead letters waiting (0: off)")
    alert_silent_minutes: float = Field(default=30, ge=0, description="a provider silent this long (0: off)")
    alert_ack_lag_minutes: float = Field(default=60, ge=0, description="an order unacknowledged this long (0: off)")
    alert_failure_rate: float = Field(default=0.5, ge=0, le=1, description="push failure ratio in the window (0: off)")
    alert_failure_window_minutes: float = Field(default=15, gt=0)
    alert_failure_min_attempts: int = Field(default=5, ge=1, description="fewer attempts in the window: no verdict")
    alert_resolve_after_seconds: int = Field(
        default=300, ge=0, description="a condition must stay clear this long before its alert resolves"
    )
    alert_webhook_url: str | None = Field(default=None, description="alerts are POSTed here as JSON")
    alert_webhook_secret: str | None = Field(default=None, description="HMAC-SHA256 key signing webhook bodies")
    alert_smtp_host: str | None = Field(default=None, description="SMTP server for alert e-mails")
    alert_smtp_port: int = Field(default=25, ge=1, le=65535)
    alert_smtp_starttls: bool = False
    alert_smtp_username: str | None = None
    alert_smtp_password: str | None = None
    alert_email_from: str | None = None
    alert_email_to: str | None = Field(default=None, description="comma-separated recipients of alert e-mails")
    # operator console (docs/console.md)
    console_session_seconds: int = Field(default=8 * 3600, ge=60, description="longest a console session lasts")
    console_idle_seconds: int = Field(default=1800, ge=60, description="a console session unused this long ends")
    console_max_failures: int = Field(default=5, ge=1, description="wrong passwords in a row before a lockout")
    console_lockout_seconds: int = Field(default=900, ge=1, description="how long a locked-out operator waits")

    # --- delivery: inbound idempotency and $release long-poll (docs/delivery.md) ---
    idempotency_hours: int = Field(
        default=24, ge=1, le=720, description="how long an Idempotency-Key / X-Request-ID and its answer are kept"
    )
    idempotency_claim_seconds: int = Field(
        default=30,
        ge=1,
        le=600,
        description="a key whose request stopped renewing its claim this long (its process died) is taken over",
    )
    release_max_wait: int = Field(
        default=30, ge=0, le=300, description="longest a $release long-poll (wait / Prefer: wait=N) is held, seconds"
    )

    @field_validator("invoice_vat_rates")
    @classmethod
    def _vat_rates(cls, value: str) -> str:
        from gateway.invoicing.reconcile import vat_rates  # the one reader of the setting

        vat_rates(value)
        return value

    @field_validator("outbound_allow_cidrs", "trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str | None) -> str | None:
        for part in (value or "").split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad range
        return value
    # --- patient safety (docs/patient-safety.md) ---
    risk_days: int = Field(default=7, ge=1, le=90, description="days of supply left at which a patient is at risk")
    risk_days_by_service: str | None = Field(
        default=None, description="per service type, e.g. DELIVERY_NURSING=10,DELIVERY_TRAINING=14"
    )
    risk_interval_seconds: int = Field(
        default=300, ge=0, description="how often the at-risk list is evaluated for events and metrics (0: never)"
    )

    @field_validator("risk_days_by_service")
    @classmethod
    def _service_thresholds(cls, value: str | None) -> str | None:
        if value is not None:
            parse_service_days(value)
        return value

    @property
    def risk_thresholds(self) -> dict[str, int]:
        return parse_service_days(self.risk_days_by_service or "")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for prefix, driver in (
            ("postgresql://", "postgresql+psycopg://"),
            ("postgres://", "postgresql+psycopg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if value.startswith(prefix):
                return driver + value[len(prefix) :]
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'hgw.sqlite3').resolve()}"

    @property
    def public_base_url(self) -> str:
        """This gateway's public URL: HGW_BASE_URL, else (demo and tests only: `hgw serve` refuses to start without
        it in production) the address it listens on. Token audiences are checked against it, never the Host header."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def served_at(self, host: str, port: int) -> Settings:
        """These settings once listening on host:port: the public URL becomes that address unless one is configured
        (a demo or a test server bound to port 0 learns its port only when it listens)."""
        return self if self.base_url else self.model_copy(update={"base_url": f"http://{host}:{port}"})


def parse_service_days(text: str) -> dict[str, int]:
    """`SERVICE=DAYS,…` as a mapping; ValueError naming the bad part."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, days = part.partition("=")
        if not name.strip() or not days.strip().isdigit() or not 1 <= int(days) <= 90:
            raise ValueError(f"{part!r} is not SERVICE_TYPE=DAYS with 1 to 90 days")
        out[name.strip().upper()] = int(days)
    return out


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword overrides win (CLI flags use them)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
