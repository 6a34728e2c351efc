"""The one typed settings object, read from the environment (and an optional .env) once."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

WELL_KNOWN_SECRETS = frozenset({"", "secret", "changeme", "change-me", "password", "test"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".nudgescribe"), alias="NUDGESCRIBE_DATA_DIR")
    api_code: SecretStr | None = Field(default=None, alias="NUDGESCRIBE_API_CODE")
    jwt_secret: SecretStr | None = Field(default=None, alias="NUDGESCRIBE_JWT_SECRET")
    generator_base_url: str | None = Field(default=None, alias="NUDGESCRIBE_GENERATOR_BASE_URL")
    generator_api_key: SecretStr | None = Field(default=None, alias="NUDGESCRIBE_GENERATOR_API_KEY")
    generator_concurrency: int = Field(
        default=16, ge=1, le=256, alias="NUDGESCRIBE_GENERATOR_CONCURRENCY"
    )
    generator_timeout_seconds: float = Field(
        default=30.0, gt=0, alias="NUDGESCRIBE_GENERATOR_TIMEOUT"
    )
    generator_max_attempts: int = Field(
        default=5, ge=1, le=20, alias="NUDGESCRIBE_GENERATOR_MAX_ATTEMPTS"
    )
    generator_outage_seconds: float = Field(
        default=300.0, gt=0, alias="NUDGESCRIBE_GENERATOR_OUTAGE_SECONDS"
    )
    processor_lease_seconds: float = Field(
        default=30.0, gt=0, le=3600, alias="NUDGESCRIBE_PROCESSOR_LEASE_SECONDS"
    )
    """A processor holds the job it works for this long, renewing it as it goes: the jobs
    of a processor that died are taken over by another within this many seconds."""
    webhook_allow_private: bool = Field(default=False, alias="NUDGESCRIBE_WEBHOOK_ALLOW_PRIVATE")
    """Let webhooks call loopback, private and link-local addresses, and plain http (tests,
    receivers on premises). Off, only https to public addresses is called."""
    webhook_retry_seconds: float = Field(
        default=86_400.0, gt=0, alias="NUDGESCRIBE_WEBHOOK_RETRY_SECONDS"
    )
    """A delivery is retried this long; an endpoint failing this long is disabled."""
    webhook_backoff_seconds: float = Field(
        default=5.0, gt=0, alias="NUDGESCRIBE_WEBHOOK_BACKOFF_SECONDS"
    )
    """The first retry's delay; each next one doubles it (up to an hour), with jitter."""
    webhook_concurrency: int = Field(
        default=64, ge=1, le=1024, alias="NUDGESCRIBE_WEBHOOK_CONCURRENCY"
    )
    """Deliveries in flight per dispatcher, all endpoints together."""
    webhook_endpoint_concurrency: int = Field(
        default=8, ge=1, le=256, alias="NUDGESCRIBE_WEBHOOK_ENDPOINT_CONCURRENCY"
    )
    """Deliveries in flight to one endpoint: a slow one holds at most these slots."""
    lock_timeout_seconds: int = Field(default=10, ge=0, alias="NUDGESCRIBE_LOCK_TIMEOUT")
    pool_size: int = Field(default=5, ge=1, le=100, alias="NUDGESCRIBE_DB_POOL_SIZE")
    read_your_writes_timeout: float = Field(default=10.0, gt=0, alias="NUDGESCRIBE_RYW_TIMEOUT")
    snapshot_every: int = Field(default=500, ge=10, alias="NUDGESCRIBE_SNAPSHOT_EVERY")
    ready_max_lag_seconds: float = Field(
        default=30.0, ge=0, alias="NUDGESCRIBE_READY_MAX_LAG_SECONDS"
    )
    account_cache_seconds: float = Field(
        default=5.0, ge=0, alias="NUDGESCRIBE_ACCOUNT_CACHE_SECONDS"
    )
    """How long a found account is trusted from memory: a deleted account's tokens stop
    working within this many seconds (0 looks the account up on every request)."""
    header_timeout_seconds: float = Field(default=10.0, gt=0, alias="NUDGESCRIBE_HEADER_TIMEOUT")
    """A request head (request line and headers) must arrive whole within this many
    seconds of its first byte, else 408 and the connection is closed."""
    body_timeout_seconds: float = Field(default=120.0, gt=0, alias="NUDGESCRIBE_BODY_TIMEOUT")
    """A large body (an upload, a group's membership lists) must arrive whole within this
    many seconds of its turn, else 408: one is read at a time, so a client sending slowly
    would hold up every other (32 MiB in 120 s is about 2 Mbit/s)."""
    max_header_bytes: int = Field(default=8 << 10, ge=256, alias="NUDGESCRIBE_MAX_HEADER_BYTES")
    """The largest single header (name and value) a request may send; above it, 431."""
    max_header_section_bytes: int = Field(
        default=32 << 10, ge=1024, alias="NUDGESCRIBE_MAX_HEADER_SECTION_BYTES"
    )
    """The largest request head (request line and every header); above it, 431."""

    def with_generated_secrets(self) -> Settings:
        """Fill unset secrets from the data dir, generating them once on first start."""
        values: dict[str, SecretStr] = {}
        for field, filename in (("api_code", "api_code"), ("jwt_secret", "jwt_secret")):
            current = getattr(self, field)
            if current is None:
                values[field] = SecretStr(_load_or_create_secret(self.data_dir / filename))
            elif current.get_secret_value() in WELL_KNOWN_SECRETS:
                raise ValueError(f"refusing to serve with a well-known {field}")
        return self.model_copy(update=values)


def _load_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value
