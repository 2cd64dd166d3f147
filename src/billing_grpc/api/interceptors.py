"""Server interceptors: correlation ids, request logs and metrics, and the mapping of errors to statuses."""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio

from billing_grpc.api.errors import STATUS_DETAILS_KEY, describe
from billing_grpc.application.telemetry import NO_TELEMETRY, Telemetry
from billing_grpc.domain.errors import BillingError
from billing_grpc.logs import correlation_id

log = logging.getLogger("billing_grpc.rpc")

CORRELATION_HEADER = "x-correlation-id"
_MAX_CORRELATION_ID = 128


def _correlation_from(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == CORRELATION_HEADER and isinstance(value, str) and 0 < len(value) <= _MAX_CORRELATION_ID:
            return value
    return uuid.uuid4().hex


class RequestInterceptor(aio.ServerInterceptor):  # type: ignore[misc]
    """Gives each call a correlation id, logs and counts it, and turns exceptions into rich statuses.

    Expected errors (BillingError) become their status with ErrorInfo/BadRequest details;
    anything else is logged with its traceback and answered INTERNAL without internals.
    """

    def __init__(self, telemetry: Telemetry = NO_TELEMETRY) -> None:
        self._telemetry = telemetry

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: grpc.HandlerCallDetails
    ) -> Any:
        """Wrap the method handler's behaviour."""
        handler = await continuation(details)
        if handler is None:
            return None
        call = _Call(details.method, _correlation_from(details.invocation_metadata), self._telemetry)
        return replace_behaviour(handler, call.wrap_unary, call.wrap_stream)


def replace_behaviour(
    handler: Any,
    wrap_coroutine: Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]],
    wrap_generator: Callable[[Callable[..., AsyncIterator[Any]]], Callable[..., AsyncIterator[Any]]],
) -> Any:
    """The method handler with its behaviour wrapped by the wrapper that fits its shape.

    Streaming behaviours are async generators, or coroutines that call context.write() (as the
    health service's Watch does); both wrappers keep the shape they were given.
    """
    for kind in ("unary_unary", "stream_unary", "unary_stream", "stream_stream"):
        behaviour = getattr(handler, kind)
        if behaviour is not None:
            wrap = wrap_generator if inspect.isasyncgenfunction(behaviour) else wrap_coroutine
            return handler._replace(**{kind: wrap(behaviour)})
    return handler


@dataclass(frozen=True)
class _Call:
    """One call's method and correlation id, and where its end is reported."""

    method: str
    cid: str
    telemetry: Telemetry

    def wrap_unary(self, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """A coroutine behaviour (unary response) under the call's correlation id."""

        async def wrapped(request: Any, context: aio.ServicerContext) -> Any:
            token = correlation_id.set(self.cid)
            started = time.perf_counter()
            try:
                await context.send_initial_metadata(((CORRELATION_HEADER, self.cid),))
                response = await behaviour(request, context)
                # Inside the try: the id is still set, so the call's last log line carries it too.
                self._done(started, grpc.StatusCode.OK)
                return response
            except BaseException as error:
                await self._abort(context, started, error)
                raise
            finally:
                correlation_id.reset(token)

        return wrapped

    def wrap_stream(self, behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        """An async generator behaviour (streamed responses) under the call's correlation id."""

        async def wrapped(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            token = correlation_id.set(self.cid)
            started = time.perf_counter()
            try:
                await context.send_initial_metadata(((CORRELATION_HEADER, self.cid),))
                async for response in behaviour(request, context):
                    yield response
                self._done(started, grpc.StatusCode.OK)
            except BaseException as error:
                await self._abort(context, started, error)
                raise
            finally:
                # A generator's finally runs in whatever context closes it: when gRPC cancels a
                # stream it is closed from another task, where this token means nothing and
                # reset() raises; the id then belongs to a context that is going away anyway.
                with contextlib.suppress(ValueError):
                    correlation_id.reset(token)

        return wrapped

    async def _abort(self, context: aio.ServicerContext, started: float, error: BaseException) -> None:
        """Answer the call with the status for `error`; let cancellations and aborts pass."""
        if not isinstance(error, Exception) or isinstance(error, aio.AbortError):
            self._done(started, context.code() or grpc.StatusCode.CANCELLED)
            return
        code, message, status = describe(error, self.cid)
        if isinstance(error, BillingError):
            self._done(started, code, reason=error.reason)
        else:
            log.exception("unexpected error in %s", self.method, extra={"method": self.method})
            self._done(started, code)
        await context.abort(code, message, trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()),))

    def _done(self, started: float, code: grpc.StatusCode, reason: str = "") -> None:
        """Log the call's end and report it to telemetry."""
        elapsed = time.perf_counter() - started
        elapsed_ms = round(elapsed * 1000, 2)
        extra: dict[str, Any] = {"method": self.method, "code": code.name, "duration_ms": elapsed_ms}
        if reason:
            extra["reason"] = reason
        log.info("%s %s %.2fms", self.method, code.name, elapsed_ms, extra=extra)
        self.telemetry.rpc_finished(self.method, code.name, elapsed)
