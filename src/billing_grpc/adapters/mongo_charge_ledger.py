"""The simulated gateway's charge ledger in MongoDB: captures survive a crash, as at a real gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Any

from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from billing_grpc.payments.ledger import ChargeRecord, in_recorded_order
from billing_grpc.payments.port import ChargeRequest, ChargeResult, GatewayUnavailable

Document = dict[str, Any]

GATEWAY_CHARGES = "gateway_charges"
# A losing writer waits up to 5 s for the winner's record to become majority-visible.
_WINNER_POLLS = 100
_WINNER_POLL_INTERVAL = 0.05


class MongoChargeLedger:
    """One document per idempotency key (`_id`): the unique `_id` makes the first writer win."""

    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        db = client.get_database(
            database,
            codec_options=CodecOptions(tz_aware=True, tzinfo=UTC),
            # A capture is money: acknowledged only once a majority holds it, and read only from
            # what a majority holds, so a replay never answers from a write that can roll back.
            write_concern=WriteConcern("majority"),
            read_concern=ReadConcern("majority"),
        )
        self._charges: AsyncCollection[Document] = db[GATEWAY_CHARGES]

    async def start(self) -> None:
        """Create the index that `for_invoice` needs."""
        async with _unavailable():
            await self._charges.create_index("invoice_id", name="invoice_id")

    async def get(self, idempotency_key: str) -> ChargeRecord | None:
        """The record of this key, if any."""
        async with _unavailable():
            document = await self._charges.find_one({"_id": idempotency_key})
        return None if document is None else _from_document(document)

    async def record(self, record: ChargeRecord) -> tuple[ChargeRecord, bool]:
        """Store `record` unless its key is known; return the stored record and whether this call stored it."""
        try:
            await self._charges.insert_one(_to_document(record))
        except DuplicateKeyError:
            return await self._winner(record.request.idempotency_key), False
        except PyMongoError as exc:
            raise _unavailable_error(exc) from exc
        return record, True

    async def for_invoice(self, invoice_id: str) -> list[ChargeRecord]:
        """Every attempt for the invoice, ordered by `recorded_at`, then idempotency key."""
        async with _unavailable():
            documents = await self._charges.find({"invoice_id": invoice_id}).to_list()
        # Sorted here: the result is small, and secantusdb sorts by scanning.
        return in_recorded_order([_from_document(d) for d in documents])

    async def _winner(self, idempotency_key: str) -> ChargeRecord:
        # The winner's insert may be on the primary but not yet majority-committed: wait for it.
        for _ in range(_WINNER_POLLS):
            if (stored := await self.get(idempotency_key)) is not None:
                return stored
            await asyncio.sleep(_WINNER_POLL_INTERVAL)
        raise GatewayUnavailable(f"charge {idempotency_key!r} is still being recorded; retry with the same key")


@asynccontextmanager
async def _unavailable() -> AsyncIterator[None]:
    # A store failure leaves the outcome unknown to the caller, exactly like a gateway outage.
    try:
        yield
    except PyMongoError as exc:
        raise _unavailable_error(exc) from exc


def _unavailable_error(exc: PyMongoError) -> GatewayUnavailable:
    return GatewayUnavailable(f"charge ledger unavailable: {exc}")


def _to_document(record: ChargeRecord) -> Document:
    request, result = record.request, record.result
    return {
        "_id": request.idempotency_key,
        "organization_id": request.organization_id,
        "invoice_id": request.invoice_id,
        "amount_minor": request.amount_minor,
        "currency": request.currency,
        "payment_method": request.payment_method,
        "charge_id": result.charge_id,
        "succeeded": result.succeeded,
        "failure_code": result.failure_code,
        "message": result.message,
        "recorded_at": record.recorded_at,
    }


def _from_document(document: Document) -> ChargeRecord:
    request = ChargeRequest(
        idempotency_key=document["_id"],
        organization_id=document["organization_id"],
        invoice_id=document["invoice_id"],
        amount_minor=document["amount_minor"],
        currency=document["currency"],
        payment_method=document["payment_method"],
    )
    result = ChargeResult(document["charge_id"], document["succeeded"], document["failure_code"], document["message"])
    return ChargeRecord(request, result, document["recorded_at"])
