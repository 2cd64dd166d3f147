"""Server interceptors: correlation ids, request logs and the mapping of errors to statuses."""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from billing_grpc.api.errors import STATUS_DETAILS_KEY, describe
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
    """Gives each call a correlation id, logs it, and turns exceptions into rich statuses.

    Expected errors (BillingError) become their status with ErrorInfo/BadRequest details;
    anything else is logged with its traceback and answered INTERNAL without internals.
    """

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: grpc.HandlerCallDetails
    ) -> Any:
        """Wrap the method handler's behaviour."""
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        cid = _correlation_from(details.invocation_metadata)
        return replace_behaviour(handler, lambda b: _wrap_unary(b, method, cid), lambda b: _wrap_stream(b, method, cid))


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


def _wrap_unary(behaviour: Callable[..., Awaitable[Any]], method: str, cid: str) -> Callable[..., Awaitable[Any]]:
    async def wrapped(request: Any, context: aio.ServicerContext) -> Any:
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            await context.send_initial_metadata(((CORRELATION_HEADER, cid),))
            response = await behaviour(request, context)
        except BaseException as error:
            await _abort(context, method, started, error, cid)
            raise
        finally:
            correlation_id.reset(token)
        _log_done(method, started, grpc.StatusCode.OK)
        return response

    return wrapped


def _wrap_stream(
    behaviour: Callable[..., AsyncIterator[Any]], method: str, cid: str
) -> Callable[..., AsyncIterator[Any]]:
    async def wrapped(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            await context.send_initial_metadata(((CORRELATION_HEADER, cid),))
            async for response in behaviour(request, context):
                yield response
        except BaseException as error:
            await _abort(context, method, started, error, cid)
            raise
        finally:
            correlation_id.reset(token)
        _log_done(method, started, grpc.StatusCode.OK)

    return wrapped


async def _abort(context: aio.ServicerContext, method: str, started: float, error: BaseException, cid: str) -> None:
    """Answer the call with the status for `error`; let cancellations and aborts pass."""
    if not isinstance(error, Exception) or isinstance(error, aio.AbortError):
        _log_done(method, started, context.code() or grpc.StatusCode.CANCELLED)
        return
    code, message, status = describe(error, cid)
    if isinstance(error, BillingError):
        _log_done(method, started, code, reason=error.reason)
    else:
        log.exception("unexpected error in %s", method, extra={"method": method})
        _log_done(method, started, code)
    await context.abort(code, message, trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()),))


def _log_done(method: str, started: float, code: grpc.StatusCode, reason: str = "") -> None:
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    extra: dict[str, Any] = {"method": method, "code": code.name, "duration_ms": elapsed_ms}
    if reason:
        extra["reason"] = reason
    log.info("%s %s %.2fms", method, code.name, elapsed_ms, extra=extra)
