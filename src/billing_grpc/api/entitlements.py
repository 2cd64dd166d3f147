"""EntitlementService: the organization's entitlements and checks, answered from memory (see EntitlementQueries)."""

from __future__ import annotations

from decimal import Decimal

from grpc import aio

from billing.v1 import entitlements_pb2, entitlements_pb2_grpc
from billing_grpc.api.auth import command_context
from billing_grpc.application.entitlements import FeatureStanding
from billing_grpc.bootstrap import App
from billing_grpc.domain.entitlements import check
from billing_grpc.domain.errors import FieldViolation, InvalidArgument, ResourceExhausted
from billing_grpc.domain.feature import FeatureKind
from billing_grpc.domain.money import format_decimal, parse_decimal

MAX_CHECKS = 1000


def _entitlement(code: str, standing: FeatureStanding) -> entitlements_pb2.Entitlement:
    """The wire form of a merged entitlement; `remaining` is what is left before any request."""
    value = standing.entitlement.value
    used = standing.used if standing.used is not None else Decimal(0)
    remaining = check(standing.entitlement, False, None, used).remaining
    out = entitlements_pb2.Entitlement(
        feature_code=code,
        kind=value.kind.value,
        enabled=value.kind is FeatureKind.BOOLEAN and value.enabled,
        unlimited=(value.kind is FeatureKind.LIMIT and value.limit is None)
        or (value.kind is FeatureKind.METERED and value.cap is None),
        cap="" if value.cap is None else format_decimal(value.cap),
        meter_code=value.meter_code,
        used="" if standing.used is None else format_decimal(standing.used),
        remaining="" if remaining is None else format_decimal(remaining),
        subscription_id=standing.entitlement.subscription_id,
    )
    if value.limit is not None:
        out.limit = value.limit
    return out


class EntitlementServicer(entitlements_pb2_grpc.EntitlementServiceServicer):
    """What an organization may use."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def ListEntitlements(
        self, request: entitlements_pb2.ListEntitlementsRequest, context: aio.ServicerContext
    ) -> entitlements_pb2.ListEntitlementsResponse:
        """Every feature the organization is entitled to."""
        features = await self._app.entitlements.list(command_context(), request.organization_id)
        return entitlements_pb2.ListEntitlementsResponse(
            entitlements=[_entitlement(code, standing) for code, standing in features.items()]
        )

    async def CheckEntitlement(
        self, request: entitlements_pb2.CheckEntitlementRequest, context: aio.ServicerContext
    ) -> entitlements_pb2.CheckEntitlementResponse:
        """May the organization use (this much of) the feature?"""
        return await self._check(request)

    async def CheckEntitlements(
        self, request: entitlements_pb2.CheckEntitlementsRequest, context: aio.ServicerContext
    ) -> entitlements_pb2.CheckEntitlementsResponse:
        """Several checks in one call, answered in order."""
        if not request.checks:
            raise InvalidArgument.of(FieldViolation("checks", "at least one check"))
        if len(request.checks) > MAX_CHECKS:
            raise ResourceExhausted("too_many_checks", f"at most {MAX_CHECKS} checks a call")
        return entitlements_pb2.CheckEntitlementsResponse(
            results=[await self._check(check, f"checks[{i}].") for i, check in enumerate(request.checks)]
        )

    async def _check(
        self, request: entitlements_pb2.CheckEntitlementRequest, path: str = ""
    ) -> entitlements_pb2.CheckEntitlementResponse:
        if not request.feature_code:
            raise InvalidArgument.of(FieldViolation(f"{path}feature_code", "is required"))
        requested = parse_decimal(request.requested, f"{path}requested") if request.requested else None
        if requested is not None and requested < 0:
            raise InvalidArgument.of(FieldViolation(f"{path}requested", "must not be negative"))
        result = await self._app.entitlements.check(
            command_context(), request.organization_id, request.feature_code, requested
        )
        decision = result.decision
        return entitlements_pb2.CheckEntitlementResponse(
            allowed=decision.allowed,
            reason=decision.reason.value,
            remaining="" if decision.remaining is None else format_decimal(decision.remaining),
            entitlement=None if result.standing is None else _entitlement(request.feature_code, result.standing),
        )
