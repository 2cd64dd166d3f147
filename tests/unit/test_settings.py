"""Configuration comes from the environment, is validated, and is documented in docs/operations.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing_grpc.settings import Settings, ValidationError, env_name

CONFIGURATION = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


def test_defaults_serve_locally_on_the_embedded_store() -> None:
    settings = Settings.from_env({})
    assert settings.mongo_uri is None
    assert settings.listen == "127.0.0.1:50051"
    assert settings.data_dir == Path(".data")


def test_environment_variables_override_defaults() -> None:
    settings = Settings.from_env(
        {
            "MONGO_URI": "mongodb://db:27017/?replicaSet=rs0",
            "BILLING_LISTEN": "0.0.0.0:6000",
            "BILLING_MAX_MESSAGE_BYTES": "2048",
            "BILLING_LOG_LEVEL": "DEBUG",
            "UNRELATED": "x",
        }
    )
    assert settings.mongo_uri == "mongodb://db:27017/?replicaSet=rs0"
    assert settings.listen == "0.0.0.0:6000"
    assert settings.max_message_bytes == 2048
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    "environ",
    [{"BILLING_MAX_MESSAGE_BYTES": "12"}, {"BILLING_LOG_LEVEL": "LOUD"}, {"BILLING_SHUTDOWN_GRACE_SECONDS": "-1"}],
)
def test_invalid_values_are_refused_at_start(environ: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env(environ)


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_every_setting_is_in_the_readme_configuration_table(field: str) -> None:
    assert f"| `{env_name(field)}` |" in CONFIGURATION, f"docs/operations.md lacks a row for {env_name(field)}"
