"""Reading read models after a command: wait until they reflect it, then fetch a document."""

from __future__ import annotations

from typing import Any

from billing_grpc.bootstrap import App
from billing_grpc.domain.errors import NotFound, Unavailable

# How long a command's response waits for the read models to show it before giving up.
READ_YOUR_WRITES_TIMEOUT = 5.0


async def settled(app: App, position: int) -> None:
    """Wait until every projection reflects `position` (read-your-writes for the caller)."""
    if position and not await app.projections.wait_until(position, READ_YOUR_WRITES_TIMEOUT):
        raise Unavailable("read_model_lagging", "the change is recorded but not yet readable; read it again shortly")


async def document(app: App, collection: str, key: str, resource: str) -> dict[str, Any]:
    """A read-model document, or NOT_FOUND."""
    found = await app.read_models.get(collection, key) if key else None
    if found is None:
        raise NotFound(f"{resource}_not_found", f"{resource.replace('_', ' ')} not found")
    return found


async def existing_organization(app: App, organization_id: str) -> dict[str, Any]:
    """The organization's document, or NOT_FOUND: a list of an unknown tenant's things is an error,
    not an empty page (a typo in an id must not read as "no invoices")."""
    return await document(app, "organizations", organization_id, "organization")
