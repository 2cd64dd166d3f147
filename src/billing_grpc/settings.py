"""All configuration, read once into one validated pydantic-settings model.

Three layers, later ones winning: a TOML file (named by `BILLING_CONFIG`), the environment
(`BILLING_*`, and `MONGO_URI`), and command-line overrides (`serve --set key=value`). A bad value
is reported as one line naming where it came from, never as pydantic's dump.

Each field's description is the README's configuration table; a test keeps them in step.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from cronsim import CronSim, CronSimError
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


# The variable naming the configuration file; not a setting itself.
CONFIG_FILE = "BILLING_CONFIG"
# Secrets and connection strings (which may hold a password) are never echoed in an error.
UNPRINTED = frozenset({"mongo_uri", "key_hash_secret", "bootstrap_admin_key"})


class ConfigurationError(ValueError):
    """Configuration that cannot be used: one line per problem, each naming the variable, key or flag."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    """Runtime configuration of one server instance."""

    # validate_by_name: code and tests build Settings(mongo_uri=...) although the environment says MONGO_URI.
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", env_prefix="BILLING_", env_ignore_empty=True, validate_by_name=True
    )

    mongo_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("mongo_uri", "MONGO_URI"),
        description="MongoDB connection string (a replica set). Unset: start the embedded store.",
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
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("an ISO 8601 UTC time, e.g. 2026-01-01T00:00:00Z, or `now`") from None
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
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """`Settings(...)` takes only what it is given; `load` is where the file and the environment come in.

        So a test or an embedding that builds its settings in code never picks up a stray
        `BILLING_*` variable of the shell it runs in.
        """
        return (init_settings,)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None) -> Settings:
        """The settings from the file, the environment (default: `os.environ`) and overrides, in that order.

        Raises ConfigurationError with one line per bad value, named as its source names it.
        """
        environ = os.environ if environ is None else environ
        flags, unknown = _override_layer(overrides)
        layers = [_file_layer(environ), _Layer(env_name, _EnvironSource(cls, environ)()), flags]
        values: dict[str, object] = {}
        for layer in layers:
            values.update(layer.values)
        try:
            settings = cls.model_validate(values)
        except ValidationError as error:
            raise ConfigurationError(unknown + [_describe(problem, layers) for problem in error.errors()]) from None
        if unknown:
            raise ConfigurationError(unknown)
        return settings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the configuration file and `BILLING_*` variables (and `MONGO_URI`)."""
        return cls.load(environ)


class _EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of `os.environ` (tests)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class _Layer:
    """One source's values and how that source names a setting in an error line."""

    def __init__(self, name_of: Callable[[str], str], values: Mapping[str, Any]) -> None:
        self.name_of = name_of
        self.values = dict(values)


def _file_layer(environ: Mapping[str, str]) -> _Layer:
    path = environ.get(CONFIG_FILE, "")
    if not path:
        return _Layer(str, {})
    if not Path(path).is_file():
        raise ConfigurationError([f"{CONFIG_FILE}: no such file (got {path})"])
    try:
        values = TomlConfigSettingsSource(Settings, toml_file=Path(path))()
    except ValueError as error:  # tomllib.TOMLDecodeError
        raise ConfigurationError([f"{CONFIG_FILE}: {path} is not TOML: {error}"]) from None
    return _Layer(lambda field: f"{field} ({path})", values)


def _override_layer(overrides: Mapping[str, str] | None) -> tuple[_Layer, list[str]]:
    """The overrides keyed by setting, and a line for each key that names none."""
    values: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in (overrides or {}).items():
        field = field_name(key)
        if field is None:
            unknown.append(f"{key} (command line): unknown setting")
        else:
            values[field] = value
    return _Layer(lambda field: f"{field} (command line)", values), unknown


def assignments(items: Iterable[str]) -> dict[str, str]:
    """`key=value` strings (command-line `--set`) as overrides; keys are setting or variable names."""
    pairs: dict[str, str] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise ConfigurationError([f"--set {item}: expected KEY=VALUE, e.g. --set grace_period_seconds=0"])
        pairs[key.strip()] = value
    return pairs


def field_name(key: str) -> str | None:
    """The setting a key names: `grace_period_seconds`, `BILLING_GRACE_PERIOD_SECONDS` or `MONGO_URI`."""
    lowered = key.lower()
    for candidate in (lowered, lowered.removeprefix("billing_")):
        if candidate in Settings.model_fields:
            return candidate
    return None


def _describe(problem: ErrorDetails, layers: list[_Layer]) -> str:
    """One line: where the value came from, what is wrong with it, and the value (unless secret)."""
    message = _explain(problem)
    if not problem["loc"]:  # a rule across settings: its message names the variables
        return message
    field = str(problem["loc"][0])
    source = next((layer for layer in reversed(layers) if field in layer.values), layers[1])
    value = problem.get("input")
    hidden = field in UNPRINTED or value is None or problem["type"] == "extra_forbidden"
    shown = "" if hidden else f" (got {value if isinstance(value, str) else repr(value)})"
    return f"{source.name_of(field)}: {message}{shown}"


# pydantic's wording, said the way an operator reads a configuration error.
_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "greater_than_equal": lambda ctx: f"must be ≥ {ctx['ge']}",
    "greater_than": lambda ctx: f"must be > {ctx['gt']}",
    "less_than_equal": lambda ctx: f"must be ≤ {ctx['le']}",
    "less_than": lambda ctx: f"must be < {ctx['lt']}",
    "int_parsing": lambda ctx: "must be a whole number",
    "int_from_float": lambda ctx: "must be a whole number",
    "int_type": lambda ctx: "must be a whole number",
    "float_parsing": lambda ctx: "must be a number",
    "float_type": lambda ctx: "must be a number",
    "decimal_parsing": lambda ctx: "must be a number",
    "bool_parsing": lambda ctx: "must be true or false",
    "bool_type": lambda ctx: "must be true or false",
    "string_type": lambda ctx: "must be a string",
    "literal_error": lambda ctx: f"must be {ctx['expected']}",
    "string_too_short": lambda ctx: f"must be at least {ctx['min_length']} characters",
    "too_short": lambda ctx: f"must be at least {ctx['min_length']} characters",
    "extra_forbidden": lambda ctx: "unknown setting",
}


def _explain(problem: ErrorDetails) -> str:
    explain = _MESSAGES.get(problem["type"])
    if explain is not None:
        return explain(dict(problem.get("ctx") or {}))
    return str(problem["msg"]).removeprefix("Value error, ")


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


__all__ = [
    "ConfigurationError",
    "Settings",
    "ValidationError",
    "assignments",
    "env_name",
    "field_name",
    "key_hash_secret",
]
