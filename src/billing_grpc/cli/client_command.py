"""The one shape of a command that talks to a running server: options, a client, a coroutine."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import click

from billing_grpc.cli.console import Console
from billing_grpc.cli.options import connection_options, json_option
from billing_grpc.cli.remote import open_client

# A call is one small RPC; waiting longer means the server is not answering.
CALL_TIMEOUT_SECONDS = 30.0

ClientAction = Callable[..., Awaitable[None]]


def client_command(action: ClientAction) -> Callable[..., Coroutine[Any, Any, None]]:
    """Give `async def action(console, client, **options)` --target, --api-key and --json.

    The Click callback returns the coroutine; `app.main` runs it (in a test: the test's loop),
    and turns what it raises into an exit status and one line.
    """

    @connection_options
    @json_option
    @functools.wraps(action)
    def callback(target: str, api_key: str | None, as_json: bool, **options: Any) -> Coroutine[Any, Any, None]:
        console = click.get_current_context().find_object(Console)
        assert console is not None, "commands run under app.main"
        console.json = as_json

        async def work() -> None:
            async with open_client(target, api_key) as client:
                await action(console, client, **options)

        return work()

    return callback
