"""CatalogueService: meters, features and plans, translated to catalogue commands and read-model reads."""

from __future__ import annotations

from grpc import aio

from billing.v1 import catalogue_pb2, catalogue_pb2_grpc
from billing_grpc.api import convert
from billing_grpc.api.auth import command_context
from billing_grpc.api.charges import charges_from_pb
from billing_grpc.api.paging import page
from billing_grpc.api.reads import document, settled
from billing_grpc.application.catalogue import NewPlan
from billing_grpc.bootstrap import App
from billing_grpc.domain.feature import FeatureRequest
from projections.catalogue import FEATURES, METERS, PLANS


class CatalogueServicer(catalogue_pb2_grpc.CatalogueServiceServicer):
    """Create and read meters, features and plans; archive plans."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def _plan(self, plan_id: str, position: int = 0) -> catalogue_pb2.Plan:
        await settled(self._app, position)
        return convert.plan(await document(self._app, PLANS, plan_id, "plan"))

    async def CreateMeter(
        self, request: catalogue_pb2.CreateMeterRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.CreateMeterResponse:
        """Define a meter."""
        position = await self._app.catalogue.create_meter(
            command_context(), request.code, request.name, request.aggregation, request.property
        )
        await settled(self._app, position)
        return catalogue_pb2.CreateMeterResponse(
            meter=convert.meter(await document(self._app, METERS, request.code, "meter"))
        )

    async def GetMeter(
        self, request: catalogue_pb2.GetMeterRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.GetMeterResponse:
        """Read a meter."""
        return catalogue_pb2.GetMeterResponse(
            meter=convert.meter(await document(self._app, METERS, request.code, "meter"))
        )

    async def ListMeters(
        self, request: catalogue_pb2.ListMetersRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.ListMetersResponse:
        """Every meter, by code."""
        found = await self._app.read_models.find(METERS, {}, sort=[("_id", 1)])
        return catalogue_pb2.ListMetersResponse(meters=[convert.meter(d) for d in found])

    async def CreateFeature(
        self, request: catalogue_pb2.CreateFeatureRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.CreateFeatureResponse:
        """Define a feature."""
        position = await self._app.catalogue.create_feature(
            command_context(), request.code, request.name, request.kind, request.meter_code
        )
        await settled(self._app, position)
        return catalogue_pb2.CreateFeatureResponse(
            feature=convert.feature(await document(self._app, FEATURES, request.code, "feature"))
        )

    async def GetFeature(
        self, request: catalogue_pb2.GetFeatureRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.GetFeatureResponse:
        """Read a feature."""
        return catalogue_pb2.GetFeatureResponse(
            feature=convert.feature(await document(self._app, FEATURES, request.code, "feature"))
        )

    async def ListFeatures(
        self, request: catalogue_pb2.ListFeaturesRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.ListFeaturesResponse:
        """Every feature, by code."""
        found = await self._app.read_models.find(FEATURES, {}, sort=[("_id", 1)])
        return catalogue_pb2.ListFeaturesResponse(features=[convert.feature(d) for d in found])

    async def CreatePlan(
        self, request: catalogue_pb2.CreatePlanRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.CreatePlanResponse:
        """Define a plan."""
        new = NewPlan(
            code=request.code,
            name=request.name,
            currency=request.currency,
            interval_unit=request.interval_unit,
            interval_count=request.interval_count or 1,
            base_fee_minor=request.base_fee_minor,
            trial_days=request.trial_days,
            charges=charges_from_pb(request.charges),
            features=[_feature_request(f) for f in request.features],
            base_fee_timing=request.base_fee_timing,
            proration_unit=request.proration_unit,
        )
        plan_id, position = await self._app.catalogue.create_plan(command_context(), new)
        return catalogue_pb2.CreatePlanResponse(plan=await self._plan(plan_id, position))

    async def GetPlan(
        self, request: catalogue_pb2.GetPlanRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.GetPlanResponse:
        """Read a plan."""
        return catalogue_pb2.GetPlanResponse(plan=await self._plan(request.plan_id))

    async def ListPlans(
        self, request: catalogue_pb2.ListPlansRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.ListPlansResponse:
        """Page through plans."""
        query = {} if request.include_archived else {"archived_at": None}
        found = await page(self._app.read_models, PLANS, query, request.page_size, request.page_token)
        return catalogue_pb2.ListPlansResponse(
            plans=[convert.plan(d) for d in found.documents], next_page_token=found.next_token
        )

    async def ArchivePlan(
        self, request: catalogue_pb2.ArchivePlanRequest, context: aio.ServicerContext
    ) -> catalogue_pb2.ArchivePlanResponse:
        """Archive a plan."""
        position = await self._app.catalogue.archive_plan(command_context(), request.plan_id)
        return catalogue_pb2.ArchivePlanResponse(plan=await self._plan(request.plan_id, position))


def _feature_request(value: catalogue_pb2.PlanFeature) -> FeatureRequest:
    """A plan's feature value as asked for; the domain checks it against the feature's kind."""
    return FeatureRequest(
        code=value.feature_code,
        enabled=value.enabled,
        limit=value.limit if value.HasField("limit") else None,
        unlimited=value.unlimited,
        cap=value.cap,
    )
