"""All configuration, read once from environment variables into one validated object.

Each field's description is the README's configuration table; a test keeps them in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseModel):
    """Runtime configuration of one server instance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mongo_uri: str | None = Field(
        None, description="MongoDB connection string (a replica set). Unset: start the embedded store."
    )
    database: str = Field("billing", min_length=1, description="MongoDB database name.")
    listen: str = Field("127.0.0.1:50051", description="gRPC listen address, host:port.")
    data_dir: Path = Field(Path(".data"), description="Folder for the embedded store's data and logs.")
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: Literal["json", "text"] = Field("json", description="`json` (one object a line) or `text`.")
    max_message_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest gRPC message accepted or sent, in bytes."
    )
    keepalive_seconds: int = Field(30, ge=1, description="Interval of server keepalive pings.")
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="How long in-flight calls may finish after SIGTERM/Ctrl-C."
    )
    store_timeout_ms: int = Field(
        2000, ge=100, description="How long a store call waits for MongoDB before UNAVAILABLE."
    )

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


__all__ = ["Settings", "ValidationError", "env_name"]
