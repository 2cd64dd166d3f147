"""`billing-grpc keys create|revoke` against the real server: the printed key works until revoked."""

from __future__ import annotations

import re

import grpc
import pytest
from grpc import aio

from billing.v1 import identity_pb2, organizations_pb2
from billing_grpc.embedded import free_port
from tests.e2e.cli_runner import run_cli, target
from tests.e2e.conftest import Running, auth
from tests.e2e.world import World, build_world
from tests.rpc_errors import details_of


@pytest.fixture
async def world(running: Running) -> World:
    return await build_world(running)


async def read_organization(world: World, key: str) -> str:
    """The caller's own organization, read with `key`."""
    request = organizations_pb2.GetOrganizationRequest(organization_id=world.own.organization_id)
    answer = await world.stubs.organizations.GetOrganization(request, metadata=auth(key))
    return str(answer.organization.organization_id)


def as_admin(world: World) -> list[str]:
    return ["--target", target(world.running), "--api-key", world.running.admin_token]


async def test_a_created_key_works_until_it_is_revoked(world: World) -> None:
    user_id, _ = await world.user(world.own.organization_id, ("billing_viewer", world.own.organization_id))

    expiring = ["--name", "ops laptop", "--expires-at", "2027-01-01T00:00:00Z"]
    code, out, err = await run_cli(["keys", "create", "--user", user_id, *expiring, *as_admin(world)])

    assert code == 0, err
    [key_id] = re.findall(r"^key_id: ([0-9a-f]{16})$", out, re.MULTILINE)
    [key] = re.findall(r"^key: (bgk_\S+)$", out, re.MULTILINE)
    assert key.startswith(f"bgk_{key_id}_")
    assert "shown once" in err and "expires 2027-01-01T00:00:00+00:00" in err
    assert await read_organization(world, key) == world.own.organization_id
    listed = await world.stubs.api_keys.ListApiKeys(
        identity_pb2.ListApiKeysRequest(user_id=user_id), metadata=world.running.admin
    )
    assert [k.name for k in listed.api_keys if k.key_id == key_id] == ["ops laptop"]

    code, out, err = await run_cli(["keys", "revoke", key_id, *as_admin(world)])

    assert code == 0, err
    assert out.startswith(f"revoked key {key_id} of {user_id} at ")
    with pytest.raises(aio.AioRpcError) as refused:
        await read_organization(world, key)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details_of(refused.value).reason == "key_revoked"


async def test_the_key_and_target_come_from_the_environment(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    user_id, _ = await world.user(world.own.organization_id, ("billing_viewer", world.own.organization_id))
    monkeypatch.setenv("BILLING_API_KEY", world.running.admin_token)
    monkeypatch.setenv("BILLING_TARGET", target(world.running))

    code, out, err = await run_cli(["keys", "create", "--user", user_id])

    assert code == 0, err
    [key] = re.findall(r"^key: (bgk_\S+)$", out, re.MULTILINE)
    assert await read_organization(world, key) == world.own.organization_id


async def test_server_refusals_are_one_line_and_a_non_zero_exit(world: World) -> None:
    viewer_id, viewer_key = await world.user(world.own.organization_id, ("billing_viewer", world.own.organization_id))
    member = world.own.member_user_id
    admin = as_admin(world)
    as_viewer = ["--target", target(world.running), "--api-key", viewer_key]
    cases = [
        (["keys", "create", "--user", "usr_missing", *admin], 66, "error: NOT_FOUND"),
        (
            ["keys", "create", "--user", member, "--expires-at", "2020-01-01T00:00:00Z", *admin],
            65,
            "error: INVALID_ARGUMENT (invalid_argument): ",
        ),
        (["keys", "create", "--user", member, *as_viewer], 77, "error: PERMISSION_DENIED"),
        (["keys", "revoke", "0" * 16, *admin], 66, "error: NOT_FOUND"),
        (
            ["keys", "revoke", "0" * 16, "--target", target(world.running), "--api-key", "bgk_nope"],
            77,
            "error: UNAUTHENTICATED",
        ),
        (
            ["keys", "create", "--user", viewer_id, "--target", f"127.0.0.1:{free_port()}", *admin[2:]],
            69,
            "error: UNAVAILABLE",
        ),
    ]
    for argv, status, start in cases:
        code, out, err = await run_cli(argv)
        assert (code, out) == (status, ""), argv
        assert err.startswith(start) and err.count("\n") == 1, (argv, err)
    _, _, err = await run_cli(cases[1][0])
    assert err.rstrip().endswith("; expires_at: must be in the future")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "create", "--user", "usr_1", "--expires-at", "next week"], "not an ISO 8601 time"),
        (["keys", "create", "--user", "usr_1", "--expires-at", "2027-01-01T00:00:00"], "not an ISO 8601 time"),
        (["keys", "create"], "Missing option '--user'"),
        (["keys", "revoke"], "Missing argument 'KEY_ID'"),
        (["keys"], "Commands:"),
        (["keys", "rotate"], "No such command 'rotate'"),
    ],
)
async def test_bad_arguments_exit_64_with_the_problem(argv: list[str], message: str) -> None:
    code, out, err = await run_cli(argv)
    assert (code, out) == (64, "")
    assert message in err
