"""OrganizationService: thin translation between protobuf and the identity commands and reads."""

from __future__ import annotations

from grpc import aio

from billing.v1 import organizations_pb2, organizations_pb2_grpc
from billing_grpc.api import convert
from billing_grpc.api.auth import command_context
from billing_grpc.api.reads import document, settled
from billing_grpc.bootstrap import App
from billing_grpc.domain.access import Action
from projections.identity import ORGANIZATIONS


class OrganizationServicer(organizations_pb2_grpc.OrganizationServiceServicer):
    """Create and read organizations."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def CreateOrganization(
        self, request: organizations_pb2.CreateOrganizationRequest, context: aio.ServicerContext
    ) -> organizations_pb2.CreateOrganizationResponse:
        """Create a tenant."""
        organization_id, position = await self._app.identity.create_organization(command_context(), request.name)
        await settled(self._app, position)
        doc = await document(self._app, ORGANIZATIONS, organization_id, "organization")
        return organizations_pb2.CreateOrganizationResponse(organization=convert.organization(doc))

    async def GetOrganization(
        self, request: organizations_pb2.GetOrganizationRequest, context: aio.ServicerContext
    ) -> organizations_pb2.GetOrganizationResponse:
        """Read one organization the caller may see."""
        command_context().require(Action.ORGANIZATIONS_READ, request.organization_id, "organization")
        doc = await document(self._app, ORGANIZATIONS, request.organization_id, "organization")
        return organizations_pb2.GetOrganizationResponse(organization=convert.organization(doc))
