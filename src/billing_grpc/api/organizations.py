"""OrganizationService: thin translation between protobuf and organization commands and reads."""

from __future__ import annotations

from typing import Any

from grpc import aio

from billing.v1 import organizations_pb2, organizations_pb2_grpc
from billing_grpc.api import convert
from billing_grpc.api.auth import command_context
from billing_grpc.api.paging import page
from billing_grpc.api.reads import document, settled
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.bootstrap import App
from billing_grpc.domain.access import Action
from billing_grpc.domain.errors import FieldViolation, InvalidArgument, NotFound
from projections.organizations import ORGANIZATIONS


class OrganizationServicer(organizations_pb2_grpc.OrganizationServiceServicer):
    """Create, read, list and update organizations."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def _read(self, organization_id: str, position: int = 0) -> organizations_pb2.Organization:
        await settled(self._app, position)
        return convert.organization(await document(self._app, ORGANIZATIONS, organization_id, "organization"))

    async def CreateOrganization(
        self, request: organizations_pb2.CreateOrganizationRequest, context: aio.ServicerContext
    ) -> organizations_pb2.CreateOrganizationResponse:
        """Create a tenant."""
        new = NewOrganization(
            name=request.name,
            currency=request.currency,
            billing_email=request.billing_email,
            external_id=request.external_id,
            payment_method=request.payment_method,
        )
        organization_id, position = await self._app.organizations.create(command_context(), new)
        return organizations_pb2.CreateOrganizationResponse(organization=await self._read(organization_id, position))

    async def GetOrganization(
        self, request: organizations_pb2.GetOrganizationRequest, context: aio.ServicerContext
    ) -> organizations_pb2.GetOrganizationResponse:
        """Read one organization the caller may see, by id or external id."""
        doc = await self._find(request)
        command_context().require(Action.ORGANIZATIONS_READ, doc["_id"], "organization")
        return organizations_pb2.GetOrganizationResponse(organization=convert.organization(doc))

    async def _find(self, request: organizations_pb2.GetOrganizationRequest) -> dict[str, Any]:
        if bool(request.organization_id) == bool(request.external_id):
            raise InvalidArgument.of(
                FieldViolation("organization_id", "set exactly one of organization_id, external_id")
            )
        if request.organization_id:
            # Checked before the lookup, so a caller learns nothing about other tenants' ids.
            command_context().require(Action.ORGANIZATIONS_READ, request.organization_id, "organization")
            return await document(self._app, ORGANIZATIONS, request.organization_id, "organization")
        found = await self._app.read_models.find(ORGANIZATIONS, {"external_id": request.external_id}, limit=1)
        if not found:
            raise NotFound("organization_not_found", "organization not found")
        return found[0]

    async def ListOrganizations(
        self, request: organizations_pb2.ListOrganizationsRequest, context: aio.ServicerContext
    ) -> organizations_pb2.ListOrganizationsResponse:
        """Page through the organizations the caller may read."""
        visible = command_context().principal.organizations_for(Action.ORGANIZATIONS_READ)
        query = {} if visible is None else {"_id": {"$in": sorted(visible)}}
        found = await page(self._app.read_models, ORGANIZATIONS, query, request.page_size, request.page_token)
        return organizations_pb2.ListOrganizationsResponse(
            organizations=[convert.organization(d) for d in found.documents], next_page_token=found.next_token
        )

    async def UpdateOrganization(
        self, request: organizations_pb2.UpdateOrganizationRequest, context: aio.ServicerContext
    ) -> organizations_pb2.UpdateOrganizationResponse:
        """Change some details."""
        position = await self._app.organizations.update(
            command_context(),
            request.organization_id,
            request.name if request.HasField("name") else None,
            request.billing_email if request.HasField("billing_email") else None,
            request.payment_method if request.HasField("payment_method") else None,
        )
        return organizations_pb2.UpdateOrganizationResponse(
            organization=await self._read(request.organization_id, position)
        )
