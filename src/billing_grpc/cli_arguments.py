"""Argument types and options shared by the command line's subcommands."""

from __future__ import annotations

import argparse
import os
from datetime import datetime

from billing_grpc.domain.clock import ensure_utc

DEFAULT_TARGET = "127.0.0.1:50051"
TARGET_VARIABLE = "BILLING_TARGET"
API_KEY_VARIABLE = "BILLING_API_KEY"


def moment(text: str) -> datetime:
    """An ISO 8601 time with an offset, as UTC (argparse type)."""
    try:
        return ensure_utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time with a UTC offset: {text}") from exc


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """`--target` and `--api-key`, defaulting to BILLING_TARGET and BILLING_API_KEY."""
    parser.add_argument(
        "--target",
        default=os.environ.get(TARGET_VARIABLE, DEFAULT_TARGET),
        help=f"host:port of a running server (default: ${TARGET_VARIABLE} or {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_VARIABLE),
        help=f"API key sent as `authorization: Bearer` (default: ${API_KEY_VARIABLE})",
    )
