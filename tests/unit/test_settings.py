"""Configuration comes from a file, the environment and flags, is validated, and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing_grpc.settings import ConfigurationError, Settings, assignments, env_name

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


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
    with pytest.raises(ConfigurationError):
        Settings.from_env(environ)


def test_each_bad_variable_is_one_line_naming_it_with_the_value_it_got() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.load(
            {
                "BILLING_GRACE_PERIOD_SECONDS": "-5",
                "BILLING_LOG_LEVEL": "LOUD",
                "BILLING_MAX_MESSAGE_BYTES": "many",
                "BILLING_SCHEDULER": "maybe",
            }
        )
    assert sorted(raised.value.lines) == [
        "BILLING_GRACE_PERIOD_SECONDS: must be ≥ 0 (got -5)",
        "BILLING_LOG_LEVEL: must be 'DEBUG', 'INFO', 'WARNING' or 'ERROR' (got LOUD)",
        "BILLING_MAX_MESSAGE_BYTES: must be a whole number (got many)",
        "BILLING_SCHEDULER: must be true or false (got maybe)",
    ]
    assert "pydantic" not in str(raised.value) and "validation error" not in str(raised.value)


def test_secrets_and_connection_strings_are_named_but_never_echoed() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.load({"BILLING_KEY_HASH_SECRET": "hunter2", "MONGO_URI": "mongodb://u:pa55@db:27017"})
    # The URI is a string, so it is not an error here; the secret is, and its value stays out.
    assert raised.value.lines == ["BILLING_KEY_HASH_SECRET: must be at least 32 characters"]


def test_a_rule_across_settings_is_one_line_naming_the_variables() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.load({"BILLING_TLS_KEY_FILE": "key.pem"})
    assert raised.value.lines == ["BILLING_TLS_CERT_FILE and BILLING_TLS_KEY_FILE go together"]


def test_the_file_then_the_environment_then_overrides_each_win_over_the_one_before(tmp_path: Path) -> None:
    config = tmp_path / "billing.toml"
    config.write_text('grace_period_seconds = 60\nlog_format = "text"\nlisten = "0.0.0.0:7000"\ndatabase = "file"\n')
    environ = {"BILLING_CONFIG": str(config), "BILLING_GRACE_PERIOD_SECONDS": "30", "BILLING_LISTEN": "0.0.0.0:8000"}
    settings = Settings.load(environ, overrides={"listen": "127.0.0.1:9000", "BILLING_DATABASE": "flag"})
    assert settings.log_format == "text"  # only the file sets it
    assert settings.grace_period_seconds == 30  # the environment wins over the file
    assert (settings.listen, settings.database) == ("127.0.0.1:9000", "flag")  # the flags win over both


def test_a_bad_value_in_the_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / "billing.toml"
    config.write_text("grace_period_seconds = -5\ngrace_seconds = 1\n")
    with pytest.raises(ConfigurationError) as raised:
        Settings.load({"BILLING_CONFIG": str(config)})
    assert sorted(raised.value.lines) == [
        f"grace_period_seconds ({config}): must be ≥ 0 (got -5)",
        f"grace_seconds ({config}): unknown setting",
    ]


@pytest.mark.parametrize(
    ("content", "line"),
    [(None, "BILLING_CONFIG: no such file (got {path})"), ("grace = = 1", "BILLING_CONFIG: {path} is not TOML: ")],
)
def test_a_missing_or_unreadable_file_is_one_line(tmp_path: Path, content: str | None, line: str) -> None:
    config = tmp_path / "billing.toml"
    if content is not None:
        config.write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        Settings.load({"BILLING_CONFIG": str(config)})
    [reported] = raised.value.lines
    assert reported.startswith(line.format(path=config))


def test_overrides_are_named_as_flags_and_unknown_ones_are_refused_with_the_rest() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.load({"BILLING_LOG_LEVEL": "LOUD"}, overrides=assignments(["grace_period_seconds=-1", "colour=red"]))
    assert sorted(raised.value.lines) == [
        "BILLING_LOG_LEVEL: must be 'DEBUG', 'INFO', 'WARNING' or 'ERROR' (got LOUD)",
        "colour (command line): unknown setting",
        "grace_period_seconds (command line): must be ≥ 0 (got -1)",
    ]
    with pytest.raises(ConfigurationError, match="expected KEY=VALUE"):
        assignments(["grace_period_seconds"])


def test_settings_built_in_code_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests and embeddings build Settings(...) themselves: a stray variable in the shell must not leak in.
    monkeypatch.setenv("BILLING_STORE", "memory")
    monkeypatch.setenv("MONGO_URI", "mongodb://elsewhere:27017")
    assert Settings().store == "mongodb" and Settings().mongo_uri is None
    assert Settings.load().store == "memory"


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_every_setting_is_in_the_readme_configuration_table(field: str) -> None:
    assert f"| `{env_name(field)}` |" in README, f"README lacks a row for {env_name(field)}"


def test_the_configuration_file_is_in_the_readme_configuration_table() -> None:
    assert "| `BILLING_CONFIG` |" in README
