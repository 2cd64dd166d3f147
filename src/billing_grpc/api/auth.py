"""Authentication and coarse authorization of every call, before any servicer runs.

The interceptor authenticates the bearer key, then checks that the caller's roles allow the
RPC's action somewhere (else PERMISSION_DENIED). Whether they allow it for the organization a
request touches is decided by the handlers, which know the resource (else NOT_FOUND).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import grpc
from grpc import aio

from billing_grpc.api.interceptors import replace_behaviour
from billing_grpc.api.policy import POLICY, is_public
from billing_grpc.application.authentication import Authenticator
from billing_grpc.application.context import CommandContext
from billing_grpc.domain.access import Action, Principal
from billing_grpc.domain.errors import PermissionDenied
from billing_grpc.logs import correlation_id

current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)


def command_context() -> CommandContext:
    """The context of the command a servicer is about to issue, from the authenticated call."""
    principal = current_principal.get()
    if principal is None:
        raise RuntimeError("no authenticated principal: is the AuthInterceptor installed?")
    return CommandContext(principal, correlation_id.get())


class AuthInterceptor(aio.ServerInterceptor):  # type: ignore[misc]
    """Require a valid `authorization: Bearer <key>` and a role that allows the RPC."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: grpc.HandlerCallDetails
    ) -> Any:
        """Wrap non-public RPCs with the authentication step."""
        handler = await continuation(details)
        if handler is None or is_public(details.method):
            return handler
        action = POLICY.get(details.method)
        authorization = next((v for k, v in details.invocation_metadata or () if k == "authorization"), None)

        async def admit() -> None:
            principal = await self._authenticator.authenticate(authorization)
            if action is None:  # an RPC nobody gave a policy line: deny rather than guess
                raise PermissionDenied("no_policy", f"{details.method} is not open to anyone")
            if not principal.may_somewhere(action):
                raise PermissionDenied("permission_denied", f"your roles do not allow {action.value}")
            current_principal.set(principal)

        def unary(behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def wrapped(request: Any, context: aio.ServicerContext) -> Any:
                await admit()
                return await behaviour(request, context)

            return wrapped

        def stream(behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
            async def wrapped(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
                await admit()
                async for response in behaviour(request, context):
                    yield response

            return wrapped

        return replace_behaviour(handler, unary, stream)


__all__ = ["Action", "AuthInterceptor", "command_context", "current_principal"]
