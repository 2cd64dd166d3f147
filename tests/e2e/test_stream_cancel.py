"""A client cancelling a server stream leaves no error behind in the server's event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from billing.v1 import event_log_pb2, event_log_pb2_grpc
from tests.e2e.conftest import Running


async def test_cancelling_a_followed_event_stream_raises_nothing_in_the_server(running: Running) -> None:
    """gRPC closes a cancelled stream's generator from another task, whose context never set the
    call's correlation id: resetting it there raised ValueError into the loop's exception handler."""
    loop_errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: loop_errors.append(context))
    try:
        stub = event_log_pb2_grpc.EventLogServiceStub(running.channel)
        call = stub.ReadEvents(event_log_pb2.ReadEventsRequest(follow=True), metadata=running.admin)
        assert isinstance(await call.read(), event_log_pb2.ReadEventsResponse)
        call.cancel()
        # The server learns of the cancellation asynchronously; a stream call it serves next
        # proves it has moved on.
        follow_up = stub.ReadEvents(event_log_pb2.ReadEventsRequest(limit=1), metadata=running.admin)
        assert len([event async for event in follow_up]) == 1
        await asyncio.sleep(0.2)
    finally:
        loop.set_exception_handler(previous)
    assert [str(context.get("exception") or context.get("message")) for context in loop_errors] == []
