"""Every RPC, every role, own and other organization, through the real server.

The expectations are written out here, independently of the server's policy code: adding an
RPC means one line in `world.RPCS` and one line per role below that may call it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from billing_grpc.api.policy import POLICY
from billing_grpc.api.server import SERVICE_NAMES
from tests.e2e.conftest import auth, start_running
from tests.e2e.world import RPCS, Refused, World, build_world
from tests.rpc_errors import details_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

EVERYTHING = frozenset(RPCS)
USAGE = frozenset({"UsageService/RecordUsage", "UsageService/StreamUsage"})
BILLING_READ = frozenset(
    {
        "SubscriptionService/GetSubscription",
        "SubscriptionService/ListSubscriptions",
        "UsageService/GetUsageSummary",
        "UsageService/PreviewInvoice",
        "InvoiceService/GetInvoice",
        "InvoiceService/ListInvoices",
        "InvoiceService/GetBalance",
        "InvoiceService/ListPayments",
        "AuditService/ExplainInvoice",
    }
)
CATALOGUE_READ = frozenset(
    {
        "CatalogueService/GetMeter",
        "CatalogueService/ListMeters",
        "CatalogueService/GetPlan",
        "CatalogueService/ListPlans",
        "CatalogueService/GetFeature",
        "CatalogueService/ListFeatures",
    }
)
ENTITLEMENTS = frozenset(
    {
        "EntitlementService/ListEntitlements",
        "EntitlementService/CheckEntitlement",
        "EntitlementService/CheckEntitlements",
    }
)
# Every role may read the server's clock.
CLOCK = frozenset({"BillingService/GetClock"})
# What each caller may do to its own organization (or, for platform roles, to any).
ALLOWED: dict[str, frozenset[str]] = {
    "platform_admin": EVERYTHING,
    "org_admin": CATALOGUE_READ
    | CLOCK
    | BILLING_READ
    | ENTITLEMENTS
    | frozenset(
        {
            "OrganizationService/GetOrganization",
            "OrganizationService/ListOrganizations",
            "OrganizationService/UpdateOrganization",
            "SubscriptionService/StartSubscription",
            "SubscriptionService/CancelSubscription",
            "SubscriptionService/ChangePlan",
            "SubscriptionService/ChangeBillingAnchor",
            "SubscriptionService/PauseSubscription",
            "SubscriptionService/ResumeSubscription",
            "UserService/CreateUser",
            "UserService/GetUser",
            "UserService/DisableUser",
            "UserService/GrantRole",
            "UserService/RevokeRole",
            "ApiKeyService/IssueApiKey",
            "ApiKeyService/RevokeApiKey",
            "ApiKeyService/ListApiKeys",
        }
    ),
    "billing_viewer": CATALOGUE_READ
    | CLOCK
    | BILLING_READ
    | ENTITLEMENTS
    | {"OrganizationService/GetOrganization", "OrganizationService/ListOrganizations"},
    "usage_emitter": CATALOGUE_READ | CLOCK | USAGE | ENTITLEMENTS,
    "auditor": CATALOGUE_READ
    | CLOCK
    | {
        "EventLogService/ReadEvents",
        "AuditService/ExplainInvoice",
        "OrganizationService/GetOrganization",
        "OrganizationService/ListOrganizations",
    },
    "platform_usage_emitter": CATALOGUE_READ | CLOCK | USAGE | ENTITLEMENTS,
    "platform_auditor": CATALOGUE_READ
    | CLOCK
    | {
        "EventLogService/ReadEvents",
        "AuditService/ExplainInvoice",
        "OrganizationService/GetOrganization",
        "OrganizationService/ListOrganizations",
    },
    "no_roles": frozenset(),
}
PLATFORM_SCOPED = {"platform_admin", "platform_usage_emitter", "platform_auditor"}


def expected(caller: str, rpc: str, target: str) -> grpc.StatusCode:
    """OK if allowed; NOT_FOUND for an org-scoped caller reaching into another tenant; else denied."""
    org_targeted, _ = RPCS[rpc]
    if rpc not in ALLOWED[caller]:
        return grpc.StatusCode.PERMISSION_DENIED
    if target == "other" and org_targeted and caller not in PLATFORM_SCOPED:
        return grpc.StatusCode.NOT_FOUND
    return grpc.StatusCode.OK


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(mongo_uri: str) -> AsyncIterator[World]:
    """One deployment for the whole matrix (building it per case would dominate the run time)."""
    async for running in start_running(mongo_uri, "test_auth_matrix"):
        yield await build_world(running)


async def test_every_rpc_of_the_server_is_in_the_policy_and_in_the_matrix() -> None:
    served = {path.strip("/").removeprefix("billing.v1.") for path in POLICY}
    assert served == EVERYTHING
    assert {name.removeprefix("billing.v1.") for name in SERVICE_NAMES} == {rpc.split("/")[0] for rpc in RPCS}


@pytest.mark.parametrize("target", ["own", "other"])
@pytest.mark.parametrize("caller", sorted(ALLOWED))
@pytest.mark.parametrize("rpc", sorted(RPCS))
async def test_matrix(world: World, rpc: str, caller: str, target: str) -> None:
    tenant = world.own if target == "own" else world.other
    _, call = RPCS[rpc]
    try:
        await call(world.stubs, tenant, auth(world.keys[caller]))
        outcome = grpc.StatusCode.OK
    except Refused as refused:
        outcome = refused.code
    except aio.AioRpcError as error:
        outcome = error.code()
        assert outcome != grpc.StatusCode.INTERNAL, error.details()
        if outcome in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
            assert details_of(error).reason.endswith(("permission_denied", "_not_found"))
    assert outcome == expected(caller, rpc, target)


@pytest.mark.parametrize("rpc", sorted(RPCS))
@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ((), "missing_credentials"),
        ((("authorization", "Bearer not-a-key"),), "invalid_credentials"),
        ((("authorization", "Basic dXNlcjpwYXNz"),), "invalid_credentials"),
        ((("authorization", "Bearer bgk_0123456789abcdef_" + "A" * 43),), "invalid_credentials"),
    ],
    ids=["none", "garbage", "basic", "unknown-key"],
)
async def test_calls_without_a_valid_key_are_unauthenticated(
    world: World, rpc: str, metadata: tuple[tuple[str, str], ...], reason: str
) -> None:
    _, call = RPCS[rpc]
    with pytest.raises(aio.AioRpcError) as raised:
        await call(world.stubs, world.own, metadata)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details_of(raised.value).reason == reason


async def test_a_wrong_secret_for_a_real_key_id_is_refused_like_an_unknown_key(world: World) -> None:
    real = world.keys["org_admin"]
    forged = real[:21] + ("B" if real[21] != "B" else "C") + real[22:]
    _, call = RPCS["OrganizationService/GetOrganization"]
    with pytest.raises(aio.AioRpcError) as raised:
        await call(world.stubs, world.own, auth(forged))
    assert details_of(raised.value).reason == "invalid_credentials"
