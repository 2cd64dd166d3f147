"""UserService and ApiKeyService: thin translation to the identity commands and read models."""

from __future__ import annotations

from grpc import aio

from billing.v1 import identity_pb2, identity_pb2_grpc
from billing_grpc.api import convert
from billing_grpc.api.auth import command_context
from billing_grpc.api.reads import document, settled
from billing_grpc.bootstrap import App
from billing_grpc.domain.access import Action, Grant
from billing_grpc.domain.user import parse_grant
from projections.identity import API_KEYS, USERS


def _grant(binding: identity_pb2.RoleBinding, prefix: str) -> Grant:
    return parse_grant(binding.role, binding.organization_id or None, prefix)


class UserServicer(identity_pb2_grpc.UserServiceServicer):
    """Users and their roles."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def _user(self, user_id: str, position: int = 0) -> identity_pb2.User:
        await settled(self._app, position)
        return convert.user(await document(self._app, USERS, user_id, "user"))

    async def CreateUser(
        self, request: identity_pb2.CreateUserRequest, context: aio.ServicerContext
    ) -> identity_pb2.CreateUserResponse:
        """Create a user with its initial roles."""
        grants = [_grant(binding, f"roles[{i}].") for i, binding in enumerate(request.roles)]
        user_id, position = await self._app.identity.create_user(
            command_context(), request.email, request.name, request.organization_id or None, grants
        )
        return identity_pb2.CreateUserResponse(user=await self._user(user_id, position))

    async def GetUser(
        self, request: identity_pb2.GetUserRequest, context: aio.ServicerContext
    ) -> identity_pb2.GetUserResponse:
        """Read a user the caller manages."""
        doc = await document(self._app, USERS, request.user_id, "user")
        command_context().require(Action.USERS_MANAGE, doc["organization_id"], "user")
        return identity_pb2.GetUserResponse(user=convert.user(doc))

    async def DisableUser(
        self, request: identity_pb2.DisableUserRequest, context: aio.ServicerContext
    ) -> identity_pb2.DisableUserResponse:
        """Disable a user."""
        position = await self._app.identity.disable_user(command_context(), request.user_id)
        return identity_pb2.DisableUserResponse(user=await self._user(request.user_id, position))

    async def GrantRole(
        self, request: identity_pb2.GrantRoleRequest, context: aio.ServicerContext
    ) -> identity_pb2.GrantRoleResponse:
        """Grant a role."""
        grant = _grant(request.role, "role.")
        position = await self._app.identity.grant_role(command_context(), request.user_id, grant)
        return identity_pb2.GrantRoleResponse(user=await self._user(request.user_id, position))

    async def RevokeRole(
        self, request: identity_pb2.RevokeRoleRequest, context: aio.ServicerContext
    ) -> identity_pb2.RevokeRoleResponse:
        """Revoke a role."""
        grant = _grant(request.role, "role.")
        position = await self._app.identity.revoke_role(command_context(), request.user_id, grant)
        return identity_pb2.RevokeRoleResponse(user=await self._user(request.user_id, position))


class ApiKeyServicer(identity_pb2_grpc.ApiKeyServiceServicer):
    """API keys: issue (shown once), revoke, list."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def _key(self, key_id: str, position: int = 0) -> identity_pb2.ApiKey:
        await settled(self._app, position)
        doc = await document(self._app, API_KEYS, key_id, "api_key")
        last_used = await self._app.key_activity.last_used([key_id])
        return convert.api_key(doc, last_used.get(key_id))

    async def IssueApiKey(
        self, request: identity_pb2.IssueApiKeyRequest, context: aio.ServicerContext
    ) -> identity_pb2.IssueApiKeyResponse:
        """Issue a key; the response is the only place the key ever appears."""
        expires_at = (
            convert.from_timestamp(request.expires_at, "expires_at") if request.HasField("expires_at") else None
        )
        issued = await self._app.identity.issue_api_key(command_context(), request.user_id, request.name, expires_at)
        return identity_pb2.IssueApiKeyResponse(
            api_key=await self._key(issued.key_id, issued.position), key=issued.token
        )

    async def RevokeApiKey(
        self, request: identity_pb2.RevokeApiKeyRequest, context: aio.ServicerContext
    ) -> identity_pb2.RevokeApiKeyResponse:
        """Revoke a key."""
        position = await self._app.identity.revoke_api_key(command_context(), request.key_id)
        return identity_pb2.RevokeApiKeyResponse(api_key=await self._key(request.key_id, position))

    async def ListApiKeys(
        self, request: identity_pb2.ListApiKeysRequest, context: aio.ServicerContext
    ) -> identity_pb2.ListApiKeysResponse:
        """List a user's keys, newest first."""
        owner = await document(self._app, USERS, request.user_id, "user")
        command_context().require(Action.KEYS_MANAGE, owner["organization_id"], "user")
        docs = await self._app.read_models.find(API_KEYS, {"user_id": request.user_id}, sort=[("issued_at", -1)])
        last_used = await self._app.key_activity.last_used([d["_id"] for d in docs])
        return identity_pb2.ListApiKeysResponse(api_keys=[convert.api_key(d, last_used.get(d["_id"])) for d in docs])
