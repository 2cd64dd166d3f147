"""Replay verification on the in-memory store: identical read models pass, any change is named."""

from __future__ import annotations

from datetime import UTC, datetime

from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.audit.checksums import canonical_document, document_checksum
from billing_grpc.audit.verification import compare, verify
from billing_grpc.bootstrap import open_in_memory_app
from projections.store import InMemoryReadModels


def test_checksums_ignore_field_order_and_tell_types_apart() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert document_checksum({"a": 1, "b": [moment]}) == document_checksum({"b": [moment], "a": 1})
    assert document_checksum({"a": 1}) != document_checksum({"a": "1"})
    assert document_checksum({"a": 1}) != document_checksum({"a": True})
    assert canonical_document({"at": moment}) == '{"at":{"$date":"2026-01-01T00:00:00+00:00"}}'


def test_compare_names_missing_extra_and_differing_documents_in_order() -> None:
    live = {"c": {"1": {"_id": "1", "v": 1}, "2": {"_id": "2", "v": 2}}, "d": {"9": {"_id": "9"}}}
    rebuilt = {"c": {"1": {"_id": "1", "v": 1}, "2": {"_id": "2", "v": 3}, "3": {"_id": "3"}}}
    assert [(d.collection, d.key, d.kind) for d in compare(live, rebuilt)] == [
        ("c", "2", "differs"),
        ("c", "3", "missing"),
        ("d", "9", "extra"),
    ]


async def test_a_clean_deployment_verifies_and_an_edited_read_model_is_named() -> None:
    async with open_in_memory_app() as app:
        organization_id, position = await app.organizations.create(
            system_context(), NewOrganization("Acme", "USD", payment_method="pm_ok")
        )
        assert await app.projections.wait_until(position)
        clean = await verify(app.store, app.read_models, InMemoryReadModels(), app.projections.projections)
        assert clean.ok and clean.chain.checked == position
        assert [c.projection for c in clean.projections] == [p.name for p in app.projections.projections]
        assert clean.events_replayed > 0

        document = await app.read_models.get("organizations", organization_id)
        assert document is not None
        document["name"] = "Someone else"
        position = await app.read_models.checkpoint("organizations")
        await app.read_models.commit(
            "organizations", {"organizations": {organization_id: document}}, position, position
        )
        corrupted = await verify(app.store, app.read_models, InMemoryReadModels(), app.projections.projections)
        assert not corrupted.ok and corrupted.chain.intact
        [check] = [c for c in corrupted.projections if not c.matches]
        assert (check.projection, check.difference_count) == ("organizations", 1)
        assert [(d.collection, d.key, d.kind) for d in check.differences] == [
            ("organizations", organization_id, "differs")
        ]


class MovingReadModels(InMemoryReadModels):
    """A live read model whose checkpoint moves on every look, as under a busy server."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    async def checkpoint(self, projection: str) -> int:
        self.looks += 1
        return self.looks


async def test_a_read_model_that_never_holds_still_is_reported_not_verified() -> None:
    async with open_in_memory_app() as app:
        live = MovingReadModels()
        [organizations] = [p for p in app.projections.projections if p.name == "organizations"]
        report = await verify(app.store, live, InMemoryReadModels(), [organizations])
        assert not report.ok
        assert report.projections[0].error == "the live read model kept moving"
        assert live.looks == 10  # five attempts, two looks each
