"""All configuration, read once from environment variables into one validated object.

Each field's description is the configuration table in docs/operations.md; a test keeps them in step.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseModel):
    """Runtime configuration of one server instance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mongo_uri: str | None = Field(
        None, description="MongoDB connection string (a replica set). Unset: start the embedded store."
    )
    store: Literal["mongodb", "memory"] = Field(
        "mongodb",
        description="`mongodb` (MONGO_URI, or the embedded store) or `memory` "
        "(nothing persists: demos and benchmarks).",
    )
    database: str = Field("billing", min_length=1, description="MongoDB database name.")
    listen: str = Field("127.0.0.1:50051", description="gRPC listen address, host:port.")
    data_dir: Path = Field(Path(".data"), description="Folder for the embedded store's data and logs.")
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: Literal["json", "text"] = Field("json", description="`json` (one object a line) or `text`.")
    metrics_listen: str = Field(
        "",
        description="Prometheus `/metrics` endpoint, host:port (port 0: any free port). Empty: no endpoint, "
        "no metrics kept.",
    )
    max_message_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest gRPC message accepted or sent, in bytes."
    )
    keepalive_seconds: int = Field(30, ge=1, description="Interval of server keepalive pings.")
    max_usage_streams: int = Field(
        256, ge=1, description="`StreamUsage` streams one instance serves at once; more: RESOURCE_EXHAUSTED."
    )
    max_stream_seconds: float = Field(
        3600.0, gt=0, description="How long a `StreamUsage` stream lives; then it ends after an ack."
    )
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="How long in-flight calls may finish after SIGTERM/Ctrl-C."
    )
    store_timeout_ms: int = Field(
        2000, ge=100, description="How long a store call waits for MongoDB before UNAVAILABLE."
    )
    # SecretStr: printed settings (logs, tracebacks) show ********** instead of the value.
    key_hash_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description="Server-side secret (32+ characters) API keys are hashed with; the same on every "
        "instance. Unset: generated once into `<data dir>/key-hash-secret`.",
    )
    bootstrap_admin_key: SecretStr | None = Field(
        None,
        description="A `bgk_…` key to register as the first platform admin's key instead of printing a "
        "new one (first start only).",
    )
    tls_cert_file: Path | None = Field(None, description="PEM certificate chain: serve TLS instead of plaintext.")
    tls_key_file: Path | None = Field(None, description="PEM private key for `BILLING_TLS_CERT_FILE`.")
    tls_client_ca_file: Path | None = Field(
        None, description="PEM CA bundle: require and verify client certificates (mutual TLS)."
    )

    scheduler: bool = Field(True, description="Run the billing scheduler on this instance (a lease picks one).")
    scheduler_cron: str = Field(
        "* * * * *", description="Cron expression (UTC) of billing runs: close periods, finalize, collect."
    )
    grace_period_seconds: int = Field(
        3600, ge=0, le=30 * 86400, description="How long a closed period's invoice stays a draft for late usage."
    )
    dunning_retry_days: str = Field(
        "1,3,5,7", description="Days after the first failed payment at which it is retried (increasing)."
    )
    dunning_final_action: Literal["cancel", "unpaid"] = Field(
        "cancel", description="When the last retry fails: cancel the subscription, or keep it as `unpaid`."
    )
    entitlements_past_due: Literal["keep", "suspend"] = Field(
        "keep",
        description="What a past-due subscription grants: `keep` its entitlements until it ends (Stripe's "
        "default), or `suspend` them until the failed invoice is paid. Decided when the payment fails.",
    )
    test_clock: str | None = Field(
        None,
        description="Run on a test clock starting at this ISO 8601 UTC time (or `now`): time moves only "
        "by `AdvanceClock`. Single instance, for tests and demos.",
    )
    payment_failure_rate: Decimal = Field(
        Decimal(0), ge=0, le=1, description="Simulated gateway: share of charges randomly declined (0 to 1)."
    )
    payment_seed: int = Field(0, description="Simulated gateway: seed of the random declines (reproducible runs).")

    @field_validator("scheduler_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronSim(value, datetime(2026, 1, 1))
        except CronSimError as error:
            raise ValueError(f"not a cron expression: {error}") from None
        return value

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, value: str) -> str:
        host, separator, port = value.rpartition(":")
        if value and not (separator and host and port.isdigit() and int(port) <= 65535):
            raise ValueError("host:port, e.g. 127.0.0.1:9464, or empty for no metrics endpoint")
        return value

    @field_validator("dunning_retry_days")
    @classmethod
    def _retry_days(cls, value: str) -> str:
        days = [part.strip() for part in value.split(",") if part.strip()]
        if not all(d.isdigit() and int(d) > 0 for d in days) or [int(d) for d in days] != sorted(
            {int(d) for d in days}
        ):
            raise ValueError("a comma-separated list of increasing positive day counts, e.g. 1,3,5,7")
        return ",".join(days)

    @field_validator("test_clock")
    @classmethod
    def _test_clock(cls, value: str | None) -> str | None:
        if value is not None and value != "now":
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError("give the test clock's start with a UTC offset, e.g. 2026-01-01T00:00:00Z")
        return value

    def retry_days(self) -> tuple[int, ...]:
        """The dunning retry schedule as day counts."""
        return tuple(int(day) for day in self.dunning_retry_days.split(",") if day)

    def test_clock_start(self, wall_clock_now: datetime) -> datetime | None:
        """Where the test clock starts (None: the wall clock runs the business)."""
        if self.test_clock is None:
            return None
        return wall_clock_now if self.test_clock == "now" else datetime.fromisoformat(self.test_clock).astimezone(UTC)

    @model_validator(mode="after")
    def _tls_pairs(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("BILLING_TLS_CERT_FILE and BILLING_TLS_KEY_FILE go together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("BILLING_TLS_CLIENT_CA_FILE needs BILLING_TLS_CERT_FILE and BILLING_TLS_KEY_FILE")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `BILLING_*` variables (and `MONGO_URI`), defaults elsewhere."""
        environ = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for name in cls.model_fields:
            key = env_name(name)
            if environ.get(key):
                values[name] = environ[key]
        return cls.model_validate(values)


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return "MONGO_URI" if field == "mongo_uri" else f"BILLING_{field.upper()}"


def key_hash_secret(settings: Settings) -> bytes:
    """The configured key-hash secret, or the one kept in the data folder (created on first use)."""
    if settings.key_hash_secret is not None:
        return settings.key_hash_secret.get_secret_value().encode()
    path = settings.data_dir / "key-hash-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created with owner-only permissions before anything is written into it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


__all__ = ["Settings", "ValidationError", "env_name", "key_hash_secret"]
