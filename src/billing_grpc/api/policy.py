"""Which action each RPC needs: one line per RPC, and a test that no RPC is missing (default deny)."""

from __future__ import annotations

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
from billing_grpc.domain.access import Action

# Health and reflection answer without credentials so probes and tooling (grpcurl, buf curl) work.
PUBLIC_SERVICES = frozenset(
    {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"}
)


def method(module: ModuleType, service: str, rpc: str) -> str:
    """The full method path of an RPC, checked against the proto descriptors (typos fail at import)."""
    descriptor = module.DESCRIPTOR.services_by_name[service]
    return f"/{descriptor.full_name}/{descriptor.methods_by_name[rpc].name}"


POLICY: dict[str, Action] = {
    method(event_log_pb2, "EventLogService", "ReadEvents"): Action.EVENTS_READ,
    method(organizations_pb2, "OrganizationService", "CreateOrganization"): Action.ORGANIZATIONS_CREATE,
    method(organizations_pb2, "OrganizationService", "GetOrganization"): Action.ORGANIZATIONS_READ,
    method(organizations_pb2, "OrganizationService", "ListOrganizations"): Action.ORGANIZATIONS_READ,
    method(organizations_pb2, "OrganizationService", "UpdateOrganization"): Action.ORGANIZATIONS_UPDATE,
    method(catalogue_pb2, "CatalogueService", "CreateMeter"): Action.CATALOGUE_MANAGE,
    method(catalogue_pb2, "CatalogueService", "GetMeter"): Action.CATALOGUE_READ,
    method(catalogue_pb2, "CatalogueService", "ListMeters"): Action.CATALOGUE_READ,
    method(catalogue_pb2, "CatalogueService", "CreateFeature"): Action.CATALOGUE_MANAGE,
    method(catalogue_pb2, "CatalogueService", "GetFeature"): Action.CATALOGUE_READ,
    method(catalogue_pb2, "CatalogueService", "ListFeatures"): Action.CATALOGUE_READ,
    method(catalogue_pb2, "CatalogueService", "CreatePlan"): Action.CATALOGUE_MANAGE,
    method(catalogue_pb2, "CatalogueService", "GetPlan"): Action.CATALOGUE_READ,
    method(catalogue_pb2, "CatalogueService", "ListPlans"): Action.CATALOGUE_READ,
    method(catalogue_pb2, "CatalogueService", "ArchivePlan"): Action.CATALOGUE_MANAGE,
    method(subscriptions_pb2, "SubscriptionService", "StartSubscription"): Action.SUBSCRIPTIONS_MANAGE,
    method(subscriptions_pb2, "SubscriptionService", "CancelSubscription"): Action.SUBSCRIPTIONS_MANAGE,
    method(subscriptions_pb2, "SubscriptionService", "GetSubscription"): Action.BILLING_READ,
    method(subscriptions_pb2, "SubscriptionService", "ListSubscriptions"): Action.BILLING_READ,
    method(subscriptions_pb2, "SubscriptionService", "ChangePlan"): Action.SUBSCRIPTIONS_MANAGE,
    method(subscriptions_pb2, "SubscriptionService", "ChangeBillingAnchor"): Action.SUBSCRIPTIONS_MANAGE,
    method(subscriptions_pb2, "SubscriptionService", "PauseSubscription"): Action.SUBSCRIPTIONS_MANAGE,
    method(subscriptions_pb2, "SubscriptionService", "ResumeSubscription"): Action.SUBSCRIPTIONS_MANAGE,
    method(identity_pb2, "UserService", "CreateUser"): Action.USERS_MANAGE,
    method(identity_pb2, "UserService", "GetUser"): Action.USERS_MANAGE,
    method(identity_pb2, "UserService", "DisableUser"): Action.USERS_MANAGE,
    method(identity_pb2, "UserService", "GrantRole"): Action.USERS_MANAGE,
    method(identity_pb2, "UserService", "RevokeRole"): Action.USERS_MANAGE,
    method(identity_pb2, "ApiKeyService", "IssueApiKey"): Action.KEYS_MANAGE,
    method(identity_pb2, "ApiKeyService", "RevokeApiKey"): Action.KEYS_MANAGE,
    method(identity_pb2, "ApiKeyService", "ListApiKeys"): Action.KEYS_MANAGE,
    method(usage_pb2, "UsageService", "RecordUsage"): Action.USAGE_RECORD,
    method(usage_pb2, "UsageService", "StreamUsage"): Action.USAGE_RECORD,
    method(usage_pb2, "UsageService", "GetUsageSummary"): Action.BILLING_READ,
    method(usage_pb2, "UsageService", "PreviewInvoice"): Action.BILLING_READ,
    method(billing_pb2, "BillingService", "RunBillingCycle"): Action.BILLING_OPERATE,
    method(billing_pb2, "BillingService", "AdvanceClock"): Action.BILLING_OPERATE,
    method(billing_pb2, "BillingService", "GetClock"): Action.CLOCK_READ,
    method(billing_pb2, "InvoiceService", "GetInvoice"): Action.BILLING_READ,
    method(billing_pb2, "InvoiceService", "ListInvoices"): Action.BILLING_READ,
    method(billing_pb2, "InvoiceService", "VoidInvoice"): Action.BILLING_OPERATE,
    method(billing_pb2, "InvoiceService", "GetBalance"): Action.BILLING_READ,
    method(billing_pb2, "InvoiceService", "ListPayments"): Action.BILLING_READ,
    method(billing_pb2, "InvoiceService", "GrantCredit"): Action.BILLING_OPERATE,
    method(entitlements_pb2, "EntitlementService", "ListEntitlements"): Action.ENTITLEMENTS_CHECK,
    method(entitlements_pb2, "EntitlementService", "CheckEntitlement"): Action.ENTITLEMENTS_CHECK,
    method(entitlements_pb2, "EntitlementService", "CheckEntitlements"): Action.ENTITLEMENTS_CHECK,
    method(audit_pb2, "AuditService", "VerifyProjections"): Action.LOG_VERIFY,
    method(audit_pb2, "AuditService", "ExplainInvoice"): Action.INVOICES_EXPLAIN,
}


def is_public(method_path: str) -> bool:
    """True for RPCs that need no credentials."""
    return method_path.split("/")[1] in PUBLIC_SERVICES
