"""Commands of the identity side: organizations (minimal), users, roles and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from billing_grpc.application.context import CommandContext
from billing_grpc.application.credentials import KeyHasher, MintedKey
from billing_grpc.application.streams import Writer, load_existing, load_organization, new_id
from billing_grpc.domain import api_key, user
from billing_grpc.domain.access import Action, Grant, Role
from billing_grpc.domain.errors import AlreadyExists, PermissionDenied
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.uniqueness import UniqueKeyClaimed, claim_stream, digest
from billing_grpc.eventstore import EventStore, WrongExpectedVersion


@dataclass(frozen=True)
class Issued:
    """A key just issued: its id, the token to show once, and the log position of the fact."""

    key_id: str
    token: str
    position: int


@dataclass(frozen=True)
class IdentityHandlers:
    """The identity commands. Each returns the log position its events reached."""

    store: EventStore
    writer: Writer
    hasher: KeyHasher

    async def create_user(
        self, context: CommandContext, email: str, name: str, organization_id: str | None, grants: Sequence[Grant]
    ) -> tuple[str, int]:
        """Create a user with initial roles; the email is claimed atomically with the creation."""
        context.require(Action.USERS_MANAGE, organization_id, "organization")
        if organization_id is not None:
            await self._existing_organization(organization_id)
        user_id = new_id("usr")
        created = user.create_user(user_id, email, name, organization_id, self.writer.clock.now())
        events: list[DomainEvent] = [created]
        for grant in grants:
            await self._may_grant(context, grant)
            state = user.User.replay(events)
            assert state is not None
            events.extend(state.grant(grant))
        claim = UniqueKeyClaimed(scope="user_email", key_digest=digest(created.email), owner_id=user_id)
        try:
            position = await self.writer.append(
                self.writer.append_of(user.stream_of(user_id), 0, events, context, organization_id),
                self.writer.append_of(claim_stream("user_email", created.email), 0, [claim], context, None),
            )
        except WrongExpectedVersion:
            raise AlreadyExists("email_taken", "a user with this email exists") from None
        return user_id, position

    async def disable_user(self, context: CommandContext, user_id: str) -> int:
        """Stop a user from authenticating."""
        state, version = await self._user(context, user_id)
        events = state.disable(self.writer.clock.now())
        return await self._append_user(context, state, version, events)

    async def grant_role(self, context: CommandContext, user_id: str, grant: Grant) -> int:
        """Give a user a role the caller is allowed to give."""
        state, version = await self._user(context, user_id)
        await self._may_grant(context, grant)
        return await self._append_user(context, state, version, state.grant(grant))

    async def revoke_role(self, context: CommandContext, user_id: str, grant: Grant) -> int:
        """Take a role away; the caller must be allowed to give it."""
        state, version = await self._user(context, user_id)
        self._may_scope(context, grant)
        return await self._append_user(context, state, version, state.revoke(grant))

    async def issue_api_key(
        self, context: CommandContext, user_id: str, name: str, expires_at: datetime | None
    ) -> Issued:
        """Issue a key for a user; the token is returned here and nowhere else."""
        state, _ = await self._user(context, user_id, Action.KEYS_MANAGE)
        minted = self.hasher.mint()
        position = await self._record_key(context, state, minted, name, expires_at)
        return Issued(minted.key_id, minted.token, position)

    async def revoke_api_key(self, context: CommandContext, key_id: str) -> int:
        """Revoke a key at once."""
        stream = api_key.stream_of(key_id)
        state, version = await load_existing(self.store, stream, api_key.ApiKey.replay, "api_key")
        context.require(Action.KEYS_MANAGE, state.organization_id, "api_key")
        events = state.revoke(self.writer.clock.now())
        return await self.writer.append(self.writer.append_of(stream, version, events, context, state.organization_id))

    async def _record_key(
        self, context: CommandContext, owner: user.User, minted: MintedKey, name: str, expires_at: datetime | None
    ) -> int:
        issued = api_key.issue_key(
            minted.key_id,
            owner.user_id,
            owner.organization_id,
            name,
            minted.secret_hash,
            self.writer.clock.now(),
            expires_at,
        )
        stream = api_key.stream_of(minted.key_id)
        return await self.writer.append(self.writer.append_of(stream, 0, [issued], context, owner.organization_id))

    async def _user(
        self, context: CommandContext, user_id: str, action: Action = Action.USERS_MANAGE
    ) -> tuple[user.User, int]:
        state, version = await load_existing(self.store, user.stream_of(user_id), user.User.replay, "user")
        context.require(action, state.organization_id, "user")
        return state, version

    async def _append_user(
        self, context: CommandContext, state: user.User, version: int, events: list[DomainEvent]
    ) -> int:
        stream = user.stream_of(state.user_id)
        return await self.writer.append(self.writer.append_of(stream, version, events, context, state.organization_id))

    async def _existing_organization(self, organization_id: str) -> None:
        await load_organization(self.store, organization_id)

    async def _may_grant(self, context: CommandContext, grant: Grant) -> None:
        """The caller may give the role, and its organization exists (a role in none is refused)."""
        self._may_scope(context, grant)
        if grant.organization_id is not None:  # after the scope check: no existence leaks to outsiders
            await self._existing_organization(grant.organization_id)

    @staticmethod
    def _may_scope(context: CommandContext, grant: Grant) -> None:
        """Only platform-wide user managers hand out platform roles; others only their org's roles."""
        if grant.organization_id is None or grant.role is Role.PLATFORM_ADMIN:
            if not context.principal.may(Action.USERS_MANAGE, None):
                raise PermissionDenied("grant_exceeds_scope", "only platform admins grant platform-scoped roles")
        elif not context.principal.may(Action.USERS_MANAGE, grant.organization_id):
            raise PermissionDenied("grant_exceeds_scope", "you cannot grant roles for that organization")
