"""Which RPCs the channel retries on its own, and the gRPC service config that says so.

gRPC retries a call transparently only where the service config names its method, so the table
below is the whole retry policy. A method is retried only when repeating it cannot change the
outcome: reads, and commands whose request carries idempotency keys the server deduplicates by
(`RecordUsage`: a repeat is answered `OUTCOME_DUPLICATE`). Everything else — creations,
cancellations, voids, grants, billing runs — is never repeated behind the caller's back: an
`UNAVAILABLE` there may have been applied, and only the caller can tell whether to retry.
"""

from __future__ import annotations

import json
from types import ModuleType

from billing.v1 import (
    audit_pb2,
    billing_pb2,
    catalogue_pb2,
    entitlements_pb2,
    event_log_pb2,
    identity_pb2,
    organizations_pb2,
    subscriptions_pb2,
    usage_pb2,
)

SERVICE_MODULES: tuple[ModuleType, ...] = (
    audit_pb2,
    billing_pb2,
    catalogue_pb2,
    entitlements_pb2,
    event_log_pb2,
    identity_pb2,
    organizations_pb2,
    subscriptions_pb2,
    usage_pb2,
)

# (service, method) pairs, by their proto names. A unit test checks every RPC of every service is
# in exactly one of the two sets, so a new RPC has to be classified before the client ships.
READS = frozenset(
    {
        ("billing.v1.AuditService", "VerifyProjections"),
        ("billing.v1.AuditService", "ExplainInvoice"),
        ("billing.v1.BillingService", "GetClock"),
        ("billing.v1.InvoiceService", "GetInvoice"),
        ("billing.v1.InvoiceService", "ListInvoices"),
        ("billing.v1.InvoiceService", "GetBalance"),
        ("billing.v1.InvoiceService", "ListPayments"),
        ("billing.v1.CatalogueService", "GetMeter"),
        ("billing.v1.CatalogueService", "ListMeters"),
        ("billing.v1.CatalogueService", "GetFeature"),
        ("billing.v1.CatalogueService", "ListFeatures"),
        ("billing.v1.CatalogueService", "GetPlan"),
        ("billing.v1.CatalogueService", "ListPlans"),
        ("billing.v1.EntitlementService", "ListEntitlements"),
        ("billing.v1.EntitlementService", "CheckEntitlement"),
        ("billing.v1.EntitlementService", "CheckEntitlements"),
        # A server stream: gRPC retries it only until the first response arrives.
        ("billing.v1.EventLogService", "ReadEvents"),
        ("billing.v1.UserService", "GetUser"),
        ("billing.v1.ApiKeyService", "ListApiKeys"),
        ("billing.v1.OrganizationService", "GetOrganization"),
        ("billing.v1.OrganizationService", "ListOrganizations"),
        ("billing.v1.SubscriptionService", "GetSubscription"),
        ("billing.v1.SubscriptionService", "ListSubscriptions"),
        ("billing.v1.UsageService", "GetUsageSummary"),
        ("billing.v1.UsageService", "PreviewInvoice"),
    }
)
IDEMPOTENT_COMMANDS = frozenset({("billing.v1.UsageService", "RecordUsage")})

NOT_RETRIED = frozenset(
    {
        # Commands without an idempotency key: a lost answer may hide an applied change.
        ("billing.v1.BillingService", "RunBillingCycle"),
        ("billing.v1.BillingService", "AdvanceClock"),
        ("billing.v1.InvoiceService", "VoidInvoice"),
        ("billing.v1.InvoiceService", "GrantCredit"),
        ("billing.v1.CatalogueService", "CreateMeter"),
        ("billing.v1.CatalogueService", "CreateFeature"),
        ("billing.v1.CatalogueService", "CreatePlan"),
        ("billing.v1.CatalogueService", "ArchivePlan"),
        ("billing.v1.UserService", "CreateUser"),
        ("billing.v1.UserService", "DisableUser"),
        ("billing.v1.UserService", "GrantRole"),
        ("billing.v1.UserService", "RevokeRole"),
        ("billing.v1.ApiKeyService", "IssueApiKey"),
        ("billing.v1.ApiKeyService", "RevokeApiKey"),
        ("billing.v1.OrganizationService", "CreateOrganization"),
        ("billing.v1.OrganizationService", "UpdateOrganization"),
        ("billing.v1.SubscriptionService", "StartSubscription"),
        ("billing.v1.SubscriptionService", "CancelSubscription"),
        ("billing.v1.SubscriptionService", "ChangePlan"),
        ("billing.v1.SubscriptionService", "ChangeBillingAnchor"),
        ("billing.v1.SubscriptionService", "PauseSubscription"),
        ("billing.v1.SubscriptionService", "ResumeSubscription"),
        # Keyed, but a stream: the channel would have to buffer every batch to replay it, and it
        # gives up once an ack arrived. UsageEmitter resends unacknowledged batches itself.
        ("billing.v1.UsageService", "StreamUsage"),
    }
)
RETRIED = READS | IDEMPOTENT_COMMANDS

MAX_ATTEMPTS = 5  # the first call and up to four retries
INITIAL_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 2.0
BACKOFF_MULTIPLIER = 2


def all_methods() -> frozenset[tuple[str, str]]:
    """Every (service, method) the generated code defines."""
    return frozenset(
        (service.full_name, method.name)
        for module in SERVICE_MODULES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    )


def service_config() -> str:
    """The channel's service config (JSON): retry UNAVAILABLE with exponential backoff, on RETRIED only.

    UNAVAILABLE means the request did not reach a server able to serve it (connection refused or
    reset, a server draining for shutdown, the store out of reach), the one status gRPC's own
    guidance calls safe to retry for methods that may be repeated.
    """
    policy = {
        "maxAttempts": MAX_ATTEMPTS,
        "initialBackoff": f"{INITIAL_BACKOFF_SECONDS}s",
        "maxBackoff": f"{MAX_BACKOFF_SECONDS}s",
        "backoffMultiplier": BACKOFF_MULTIPLIER,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    names = [{"service": service, "method": method} for service, method in sorted(RETRIED)]
    return json.dumps({"methodConfig": [{"name": names, "retryPolicy": policy}]})
