"""`billing-grpc serve` with a bad configuration: one line per bad value, exit 78, nothing started."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

EX_CONFIG = 78


async def serve_once(tmp_path: Path, env: dict[str, str], *arguments: str) -> tuple[int, str, str]:
    """Run `billing-grpc serve` to its end (a bad configuration ends it at once)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("BILLING_") and key != "MONGO_URI"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing_grpc.cli",
        "serve",
        *arguments,
        env={**clean, "BILLING_DATA_DIR": str(tmp_path / "data"), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_bad_variables_are_one_line_each_and_exit_ex_config(tmp_path: Path) -> None:
    code, out, err = await serve_once(
        tmp_path,
        {"BILLING_GRACE_PERIOD_SECONDS": "-5", "BILLING_LOG_FORMAT": "yaml", "BILLING_KEY_HASH_SECRET": "short"},
    )
    assert code == EX_CONFIG
    assert out == ""
    assert sorted(err.splitlines()) == [
        "error: invalid configuration: BILLING_GRACE_PERIOD_SECONDS: must be ≥ 0 (got -5)",
        "error: invalid configuration: BILLING_KEY_HASH_SECRET: must be at least 32 characters",
        "error: invalid configuration: BILLING_LOG_FORMAT: must be 'json' or 'text' (got yaml)",
    ]
    assert not (tmp_path / "data").exists()  # refused before anything started


async def test_the_file_and_the_flags_are_named_in_their_own_lines(tmp_path: Path) -> None:
    config = tmp_path / "billing.toml"
    config.write_text('scheduler_cron = "every minute"\n')
    code, _, err = await serve_once(
        tmp_path, {"BILLING_CONFIG": str(config)}, "--set", "max_usage_streams=0", "--set", "colour=red"
    )
    assert code == EX_CONFIG
    assert sorted(err.splitlines()) == [
        "error: invalid configuration: colour (command line): unknown setting",
        "error: invalid configuration: max_usage_streams (command line): must be ≥ 1 (got 0)",
        f"error: invalid configuration: scheduler_cron ({config}): not a cron expression: Wrong number of fields "
        "(got every minute)",
    ]
