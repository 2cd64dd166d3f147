"""Parameter types and options shared by the commands: times, durations, the server and the key."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import click

from billing_grpc.domain.clock import ensure_utc

DEFAULT_TARGET = "127.0.0.1:50051"
TARGET_VARIABLE = "BILLING_TARGET"
API_KEY_VARIABLE = "BILLING_API_KEY"

F = TypeVar("F", bound=Callable[..., Any])

DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


class Moment(click.ParamType[datetime]):
    """An ISO 8601 time with an offset, as UTC."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return ensure_utc(datetime.fromisoformat(str(value)))
        except ValueError:
            self.fail(f"not an ISO 8601 time with a UTC offset: {value}", param, ctx)


class Duration(click.ParamType[timedelta]):
    """`90s`, `15m`, `12h`, `30d`, `2w`, or a number of seconds."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"(\d+)([smhdw]?)", str(value).strip())
        if match is None or int(match[1]) == 0:
            self.fail(f"not a positive duration like 90s, 15m, 12h, 30d or 2w: {value}", param, ctx)
        return timedelta(seconds=int(match[1]) * DURATION_UNITS[match[2] or "s"])


MOMENT = Moment()
DURATION = Duration()


def connection_options(command: F) -> F:
    """`--target` and `--api-key`, defaulting to BILLING_TARGET and BILLING_API_KEY."""
    command = click.option(
        "--api-key",
        envvar=API_KEY_VARIABLE,
        show_envvar=True,
        help="API key sent as `authorization: Bearer`.",
    )(command)
    return click.option(
        "--target",
        envvar=TARGET_VARIABLE,
        default=DEFAULT_TARGET,
        show_default=True,
        show_envvar=True,
        help="host:port of a running server.",
    )(command)


def json_option(command: F) -> F:
    """`--json`: machine-readable output, one JSON object per line."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print protobuf JSON (field names as in the .proto), one object per line.",
    )(command)
