"""`billing-grpc keys create|revoke|list`: issue, revoke and list API keys on a running server."""

from __future__ import annotations

from datetime import datetime

import click

from billing.v1 import identity_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.options import MOMENT
from billing_grpc.cli.remote import moment_of, timestamp
from billing_grpc.cli.tables import when
from billing_grpc.client import BillingClient


@click.group(
    "keys",
    short_help="Issue, revoke and list API keys on a running server.",
    help="Issue and revoke API keys through ApiKeyService on a running server. Needs the key of a platform "
    "admin, or of an org admin for that organization's users.",
)
def keys() -> None:
    """The keys group."""


@keys.command(
    "create",
    short_help="Issue a key for a user and print it (shown once).",
    help="Issue a new API key for a user. The key is printed once: store it now; the server keeps only a keyed "
    "hash of it. With --json: the IssueApiKeyResponse (the key and its record).",
)
@click.option("--user", required=True, help="The user's id (usr_…).")
@click.option("--name", default="", help="A label for the key, e.g. the machine it lives on.")
@click.option("--expires-at", type=MOMENT, help="When the key stops working (ISO 8601 with offset; default: never).")
@client_command
async def create_key(
    console: Console, client: BillingClient, user: str, name: str, expires_at: datetime | None
) -> None:
    """Issue a key for `--user`; print its id and the key."""
    request = identity_pb2.IssueApiKeyRequest(user_id=user, name=name)
    if expires_at is not None:
        request.expires_at.CopyFrom(timestamp(expires_at))
    issued = await client.api_keys.IssueApiKey(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(issued)
        return
    key = issued.api_key
    expires = f", expires {moment_of(key.expires_at).isoformat()}" if key.HasField("expires_at") else ""
    console.line(f"key_id: {key.key_id}")
    console.line(f"key: {issued.key}")
    console.note(f"issued for {key.user_id}{expires}; the key is shown once: store it now")


@keys.command(
    "revoke",
    short_help="Revoke a key at once.",
    help="Revoke an API key: every call with it is refused UNAUTHENTICATED from now on.",
)
@click.argument("key_id", help="The key's id (the 16 hex digits after `bgk_`).")
@client_command
async def revoke_key(console: Console, client: BillingClient, key_id: str) -> None:
    """Revoke `key_id`; confirm."""
    request = identity_pb2.RevokeApiKeyRequest(key_id=key_id)
    revoked = await client.api_keys.RevokeApiKey(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(revoked.api_key)
        return
    key = revoked.api_key
    console.line(f"revoked key {key.key_id} of {key.user_id} at {moment_of(key.revoked_at).isoformat()}")


@keys.command("list", short_help="List a user's keys.", help="List a user's API keys (never the keys themselves).")
@click.option("--user", required=True, help="The user's id (usr_…).")
@client_command
async def list_keys(console: Console, client: BillingClient, user: str) -> None:
    """A user's keys."""
    listed = await client.api_keys.ListApiKeys(
        identity_pb2.ListApiKeysRequest(user_id=user), timeout=CALL_TIMEOUT_SECONDS
    )
    if console.json:
        console.messages(listed.api_keys)
        return
    rows = [
        (k.key_id, k.name, when(k, "issued_at"), when(k, "expires_at"), when(k, "revoked_at"), when(k, "last_used_at"))
        for k in listed.api_keys
    ]
    console.table(("KEY ID", "NAME", "ISSUED", "EXPIRES", "REVOKED", "LAST USED"), rows)
