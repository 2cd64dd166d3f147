"""Roles, scopes, key material and authentication, on the in-memory application."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing_grpc.application.authentication import Authenticator, InMemoryKeyActivity
from billing_grpc.application.context import CommandContext
from billing_grpc.application.credentials import KeyHasher, parse
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.bootstrap import open_in_memory_app
from billing_grpc.domain.access import Action, Grant, Principal, Role
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.errors import NotFound, PermissionDenied, Unauthenticated

HASHER = KeyHasher(b"k" * 32)


def principal(*grants: Grant) -> Principal:
    return Principal("usr_x", frozenset(grants))


@pytest.mark.parametrize(
    ("role", "organization_id"),
    [(Role.PLATFORM_ADMIN, "org_a"), (Role.ORG_ADMIN, None), (Role.BILLING_VIEWER, None)],
)
def test_roles_only_exist_at_their_scopes(role: Role, organization_id: str | None) -> None:
    with pytest.raises(ValueError):
        Grant(role, organization_id)


def test_a_scoped_grant_allows_its_organization_only_and_platform_grants_allow_all() -> None:
    scoped = principal(Grant(Role.AUDITOR, "org_a"))
    assert scoped.may(Action.EVENTS_READ, "org_a")
    assert not scoped.may(Action.EVENTS_READ, "org_b")
    assert not scoped.may(Action.EVENTS_READ, None)
    assert scoped.organizations_for(Action.EVENTS_READ) == {"org_a"}
    platform = principal(Grant(Role.AUDITOR))
    assert platform.may(Action.EVENTS_READ, "org_b") and platform.organizations_for(Action.EVENTS_READ) is None
    assert not platform.may(Action.USAGE_RECORD, "org_b")


def test_refusals_hide_other_tenants_but_not_missing_rights() -> None:
    context = CommandContext(principal(Grant(Role.ORG_ADMIN, "org_a")))
    context.require(Action.USERS_MANAGE, "org_a", "user")
    with pytest.raises(NotFound):
        context.require(Action.USERS_MANAGE, "org_b", "user")
    with pytest.raises(PermissionDenied):
        context.require(Action.USERS_MANAGE, None, "user")  # platform users are not another tenant's
    with pytest.raises(PermissionDenied):
        context.require(Action.EVENTS_READ, "org_a", "organization")


def test_minted_keys_parse_and_verify_and_nothing_else_does() -> None:
    minted = HASHER.mint()
    key_id, secret = parse(minted.token) or ("", "")
    assert key_id == minted.key_id and len(minted.token) == 4 + 16 + 1 + 43
    assert HASHER.verify(secret, minted.secret_hash)
    assert not HASHER.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B"), minted.secret_hash)
    assert not KeyHasher(b"z" * 32).verify(secret, minted.secret_hash)  # the server secret matters
    assert HASHER.mint().token != minted.token
    for bad in ("", "bgk_", minted.token[:-1], minted.token + "x", "xyz_" + minted.token[4:], minted.token.upper()):
        assert parse(bad) is None


def test_the_server_secret_must_be_long_enough() -> None:
    with pytest.raises(ValueError):
        KeyHasher(b"short")


async def test_authentication_checks_hash_revocation_expiry_and_user_status() -> None:
    clock = TestClock(datetime(2026, 3, 1, tzinfo=UTC))
    async with open_in_memory_app(clock=clock) as app:
        assert app.bootstrap is not None and app.bootstrap.token is not None
        await app.projections.wait_until(await app.store.head_position())
        admin = await app.authenticator.authenticate(f"Bearer {app.bootstrap.token}")
        assert admin.grants == {Grant(Role.PLATFORM_ADMIN)}

        context = CommandContext(admin)
        org_id, _ = await app.organizations.create(context, NewOrganization(name="Acme", currency="USD"))
        user_id, _ = await app.identity.create_user(
            context, "v@acme.io", "V", org_id, [Grant(Role.BILLING_VIEWER, org_id)]
        )
        issued = await app.identity.issue_api_key(context, user_id, "k", clock.now() + timedelta(days=1))
        await app.projections.wait_until(issued.position)
        authenticator: Authenticator = app.authenticator

        viewer = await authenticator.authenticate(f"bearer {issued.token}")
        assert viewer.grants == {Grant(Role.BILLING_VIEWER, org_id)} and viewer.key_id == issued.key_id
        for header, reason in [
            (None, "missing_credentials"),
            (f"Token {issued.token}", "invalid_credentials"),
            (f"Bearer {issued.token[:-2]}AA", "invalid_credentials"),
        ]:
            with pytest.raises(Unauthenticated) as raised:
                await authenticator.authenticate(header)
            assert raised.value.reason == reason

        clock.advance(timedelta(days=1))
        with pytest.raises(Unauthenticated, match="expired"):
            await authenticator.authenticate(f"Bearer {issued.token}")


async def test_key_activity_keeps_the_latest_use() -> None:
    activity = InMemoryKeyActivity()
    t = datetime(2026, 1, 1, tzinfo=UTC)
    await activity.touch("k", t + timedelta(minutes=5))
    await activity.touch("k", t)
    assert await activity.last_used(["k", "other"]) == {"k": t + timedelta(minutes=5)}
