"""Users, roles and API keys through the real server: lifecycle, scoping, secrecy, validation."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc import aio

from billing.v1 import event_log_pb2, identity_pb2, organizations_pb2
from tests.e2e.conftest import Running, auth
from tests.e2e.world import Stubs, World, build_world
from tests.rpc_errors import details_of


@pytest.fixture
async def world(running: Running) -> World:
    return await build_world(running)


async def get_org(world: World, token: str) -> organizations_pb2.GetOrganizationResponse:
    request = organizations_pb2.GetOrganizationRequest(organization_id=world.own.organization_id)
    return await world.stubs.organizations.GetOrganization(request, metadata=auth(token))


async def refused(world: World, token: str) -> str:
    with pytest.raises(aio.AioRpcError) as raised:
        await get_org(world, token)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    return details_of(raised.value).reason


async def test_a_revoked_key_stops_working_at_once(world: World) -> None:
    _, token = await world.user(world.own.organization_id, ("billing_viewer", world.own.organization_id))
    assert (await get_org(world, token)).organization.organization_id == world.own.organization_id

    revoked = await world.stubs.api_keys.RevokeApiKey(
        identity_pb2.RevokeApiKeyRequest(key_id=token[4:20]), metadata=world.running.admin
    )

    assert revoked.api_key.HasField("revoked_at")
    assert await refused(world, token) == "key_revoked"


async def test_an_expired_key_is_refused(world: World) -> None:
    user_id, _ = await world.user(world.own.organization_id, ("billing_viewer", world.own.organization_id))
    expires = timestamp_pb2.Timestamp()
    expires.FromDatetime(world.running.clock.now() + timedelta(hours=1))
    issued = await world.stubs.api_keys.IssueApiKey(
        identity_pb2.IssueApiKeyRequest(user_id=user_id, name="short-lived", expires_at=expires),
        metadata=world.running.admin,
    )
    await get_org(world, issued.key)

    world.running.clock.advance(timedelta(hours=1))

    assert await refused(world, issued.key) == "key_expired"


async def test_a_disabled_user_cannot_authenticate_with_any_key(world: World) -> None:
    user_id, token = await world.user(world.own.organization_id, ("billing_viewer", world.own.organization_id))
    await world.stubs.users.DisableUser(identity_pb2.DisableUserRequest(user_id=user_id), metadata=world.running.admin)
    assert await refused(world, token) == "user_disabled"


async def test_keys_appear_in_no_event_and_no_log_line(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = [world.running.admin_token, *world.keys.values()]
    _, token = await world.user(world.own.organization_id, ("org_admin", world.own.organization_id))
    tokens.append(token)
    await get_org(world, token)

    events = [
        response.event
        async for response in world.stubs.events.ReadEvents(
            event_log_pb2.ReadEventsRequest(), metadata=world.running.admin
        )
    ]
    issued = [e for e in events if e.type == "api_key.issued"]
    assert len(issued) >= len(tokens)
    everything = "\n".join(str(e) for e in events) + "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    for token in tokens:
        secret = token[21:]
        assert token not in everything and secret not in everything
    assert all(len(json.loads(e.payload_json)["secret_hash"]) == 64 for e in issued)


async def test_last_use_is_reported_without_the_secret(world: World) -> None:
    user_id, token = await world.user(world.own.organization_id, ("billing_viewer", world.own.organization_id))
    await get_org(world, token)
    await asyncio.sleep(0.2)  # the use is recorded off the request path

    listed = await world.stubs.api_keys.ListApiKeys(
        identity_pb2.ListApiKeysRequest(user_id=user_id), metadata=world.running.admin
    )

    [key] = listed.api_keys
    assert key.key_id == token[4:20]
    assert key.last_used_at.ToDatetime() == world.running.clock.now().replace(tzinfo=None)


async def test_an_organization_auditor_reads_only_its_own_organizations_events(world: World) -> None:
    _, own_auditor = await world.user(world.own.organization_id, ("auditor", world.own.organization_id))
    _, platform_auditor = await world.user(None, ("auditor", None))

    async def read(token: str) -> list[event_log_pb2.RecordedEvent]:
        call = world.stubs.events.ReadEvents(event_log_pb2.ReadEventsRequest(), metadata=auth(token))
        return [response.event async for response in call]

    scoped = await read(own_auditor)
    everything = await read(platform_auditor)

    assert scoped and {e.organization_id for e in scoped} == {world.own.organization_id}
    assert {world.own.organization_id, world.other.organization_id, ""} <= {e.organization_id for e in everything}
    assert [e for e in everything if e.organization_id == world.own.organization_id] == scoped


async def test_an_org_admin_grants_only_its_own_organizations_roles(world: World) -> None:
    _, admin_token = await world.user(world.own.organization_id, ("org_admin", world.own.organization_id))
    admin = auth(admin_token)
    member = world.own.member_user_id

    async def grant(role: str, organization_id: str) -> aio.AioRpcError:
        request = identity_pb2.GrantRoleRequest(
            user_id=member, role=identity_pb2.RoleBinding(role=role, organization_id=organization_id)
        )
        with pytest.raises(aio.AioRpcError) as raised:
            await world.stubs.users.GrantRole(request, metadata=admin)
        return raised.value

    assert (await grant("platform_admin", "")).code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await grant("auditor", "")).code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await grant("auditor", world.other.organization_id)).code() == grpc.StatusCode.PERMISSION_DENIED

    granted = await world.stubs.users.GrantRole(
        identity_pb2.GrantRoleRequest(
            user_id=member, role=identity_pb2.RoleBinding(role="auditor", organization_id=world.own.organization_id)
        ),
        metadata=admin,
    )
    assert [(r.role, r.organization_id) for r in granted.user.roles] == [("auditor", world.own.organization_id)]


async def test_an_organizations_user_holds_roles_of_that_organization_only(world: World) -> None:
    request = identity_pb2.GrantRoleRequest(
        user_id=world.own.member_user_id,
        role=identity_pb2.RoleBinding(role="billing_viewer", organization_id=world.other.organization_id),
    )
    with pytest.raises(aio.AioRpcError) as raised:
        await world.stubs.users.GrantRole(request, metadata=world.running.admin)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details_of(raised.value).reason == "grant_outside_home_organization"


async def test_emails_are_unique_ignoring_case(world: World) -> None:
    stubs: Stubs = world.stubs
    request = identity_pb2.CreateUserRequest(email="Ada@Example.com", name="Ada", organization_id="")
    await stubs.users.CreateUser(request, metadata=world.running.admin)
    head = await world.running.app.store.head_position()

    with pytest.raises(aio.AioRpcError) as raised:
        await stubs.users.CreateUser(
            identity_pb2.CreateUserRequest(email="ada@example.COM", name="Other Ada"), metadata=world.running.admin
        )

    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert details_of(raised.value).reason == "email_taken"
    assert await world.running.app.store.head_position() == head


@pytest.mark.parametrize(
    ("request_fields", "fields"),
    [
        ({"email": "", "name": ""}, {"email", "name"}),
        ({"email": "not-an-email", "name": "N"}, {"email"}),
        ({"email": "a@b.co", "name": "x" * 201}, {"name"}),
        ({"email": "a@b.co", "name": "tab\there"}, {"name"}),
        ({"email": "a@b.co", "name": "N", "roles": [identity_pb2.RoleBinding(role="wizard")]}, {"roles[0].role"}),
        (
            {
                "email": "a@b.co",
                "name": "N",
                "roles": [identity_pb2.RoleBinding(role="platform_admin", organization_id="o")],
            },
            {"roles[0].organization_id"},
        ),
    ],
)
async def test_bad_user_input_is_refused_with_field_details_and_writes_nothing(
    world: World, request_fields: dict[str, object], fields: set[str]
) -> None:
    head = await world.running.app.store.head_position()
    with pytest.raises(aio.AioRpcError) as raised:
        await world.stubs.users.CreateUser(
            identity_pb2.CreateUserRequest(**request_fields),  # type: ignore[arg-type]
            metadata=world.running.admin,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details_of(raised.value).fields) == fields
    assert await world.running.app.store.head_position() == head


async def test_an_expiry_in_the_past_is_refused(world: World) -> None:
    past = timestamp_pb2.Timestamp()
    past.FromDatetime(world.running.clock.now() - timedelta(seconds=1))
    with pytest.raises(aio.AioRpcError) as raised:
        await world.stubs.api_keys.IssueApiKey(
            identity_pb2.IssueApiKeyRequest(user_id=world.own.member_user_id, expires_at=past),
            metadata=world.running.admin,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "expires_at" in details_of(raised.value).fields


async def test_unknown_users_and_keys_are_not_found(world: World) -> None:
    for call in (
        world.stubs.users.GetUser(identity_pb2.GetUserRequest(user_id="usr_missing"), metadata=world.running.admin),
        world.stubs.api_keys.RevokeApiKey(
            identity_pb2.RevokeApiKeyRequest(key_id="0" * 16), metadata=world.running.admin
        ),
    ):
        with pytest.raises(aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
