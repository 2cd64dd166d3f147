"""`billing-grpc keys create|revoke`: issue and revoke API keys on a running server."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TextIO

from billing.v1 import identity_pb2, identity_pb2_grpc
from billing_grpc.cli_arguments import add_connection_arguments, moment
from billing_grpc.cli_remote import exit_status, moment_of, open_client, timestamp

# A key call is one small RPC; waiting longer means the server is not answering.
CALL_TIMEOUT_SECONDS = 30.0

# The async stub type exists only in the generated .pyi, hence the string.
KeyAction = Callable[["identity_pb2_grpc.ApiKeyServiceAsyncStub"], Awaitable[None]]


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keys` with its `create` and `revoke` subcommands."""
    keys = commands.add_parser(
        "keys",
        help="issue and revoke API keys on a running server",
        description="Issue and revoke API keys through ApiKeyService on a running server. Needs the key "
        "of a platform admin, or of an org admin for that organization's users.",
    )
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION", help="one of:")
    create = actions.add_parser(
        "create",
        help="issue a key for a user and print it (shown once)",
        description="Issue a new API key for a user. The key is printed once: store it now; the server "
        "keeps only a keyed hash of it.",
    )
    create.add_argument("--user", required=True, help="the user's id (usr_…)")
    create.add_argument("--name", default="", help="a label for the key, e.g. the machine it lives on")
    create.add_argument(
        "--expires-at", type=moment, help="when the key stops working (ISO 8601 with offset; default: never)"
    )
    add_connection_arguments(create)
    create.set_defaults(run=create_key)
    revoke = actions.add_parser(
        "revoke",
        help="revoke a key at once",
        description="Revoke an API key: every call with it is refused UNAUTHENTICATED from now on.",
    )
    revoke.add_argument("key_id", help="the key's id (the 16 hex digits after `bgk_`)")
    add_connection_arguments(revoke)
    revoke.set_defaults(run=revoke_key)


async def create_key(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Issue a key for `--user`; print its id and the key."""
    request = identity_pb2.IssueApiKeyRequest(user_id=options.user, name=options.name)
    if options.expires_at is not None:
        request.expires_at.CopyFrom(timestamp(options.expires_at))

    async def issue(stub: identity_pb2_grpc.ApiKeyServiceAsyncStub) -> None:
        issued = await stub.IssueApiKey(request, timeout=CALL_TIMEOUT_SECONDS)
        key = issued.api_key
        expires = f", expires {moment_of(key.expires_at).isoformat()}" if key.HasField("expires_at") else ""
        print(f"key_id: {key.key_id}", file=out)
        print(f"key: {issued.key}", file=out)
        print(f"issued for {key.user_id}{expires}; the key is shown once: store it now", file=err)

    return await _call(options, issue, err)


async def revoke_key(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Revoke `key_id`; confirm."""

    async def revoke(stub: identity_pb2_grpc.ApiKeyServiceAsyncStub) -> None:
        request = identity_pb2.RevokeApiKeyRequest(key_id=options.key_id)
        revoked = await stub.RevokeApiKey(request, timeout=CALL_TIMEOUT_SECONDS)
        key = revoked.api_key
        print(f"revoked key {key.key_id} of {key.user_id} at {moment_of(key.revoked_at).isoformat()}", file=out)

    return await _call(options, revoke, err)


async def _call(options: argparse.Namespace, action: KeyAction, err: TextIO) -> int:
    """Run `action` on a stub; a failure is one line on `err` and exit status 1."""

    async def work() -> None:
        async with open_client(options.target, options.api_key) as client:
            await action(client.api_keys)

    return await exit_status(work(), err, "error")
