"""One validated settings object from `HGW_` environment variables, built by `load_settings()`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Gateway configuration. Every field is `HGW_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="HGW_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("./data"), description="where the SQLite file and generated keys live")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under data_dir")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    base_url: str | None = Field(default=None, description="public URL of this gateway, for MessageHeader.source")
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
    token_seconds: int = Field(default=300, ge=30, le=3600, description="lifetime of issued access tokens")
    rate_per_minute: int = Field(default=1200, ge=1, description="requests per minute per client (per process)")
    rate_burst: int = Field(default=300, ge=1, description="requests a client may make at once")
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    default_provider_ods: str | None = Field(default=None, description="seeded as the default routing rule")
    log_level: str = "INFO"

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
        return self.base_url or f"http://{self.host}:{self.port}"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword overrides win (CLI flags use them)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
