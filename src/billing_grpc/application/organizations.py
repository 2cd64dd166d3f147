"""Commands on organizations: create (external id claimed uniquely) and update."""

from __future__ import annotations

from dataclasses import dataclass

from billing_grpc.application.context import CommandContext
from billing_grpc.application.streams import Writer, load_organization, new_id
from billing_grpc.domain import organization
from billing_grpc.domain.access import Action
from billing_grpc.domain.errors import AlreadyExists
from billing_grpc.domain.uniqueness import UniqueKeyClaimed, claim_stream, digest
from billing_grpc.eventstore import WrongExpectedVersion

EXTERNAL_ID_SCOPE = "organization_external_id"


@dataclass(frozen=True)
class NewOrganization:
    """The fields of CreateOrganization."""

    name: str
    currency: str
    billing_email: str = ""
    external_id: str = ""
    payment_method: str = ""


@dataclass(frozen=True)
class OrganizationHandlers:
    """Organization commands; each returns the log position its events reached."""

    writer: Writer

    async def create(self, context: CommandContext, new: NewOrganization) -> tuple[str, int]:
        """Create a tenant; its external id, if any, is claimed atomically with the creation."""
        context.require(Action.ORGANIZATIONS_CREATE, None, "organization")
        organization_id = new_id("org")
        created = organization.create_organization(
            organization_id,
            new.name,
            self.writer.clock.now(),
            currency=new.currency,
            billing_email=new.billing_email,
            external_id=new.external_id,
            payment_method=new.payment_method,
        )
        claim = None
        if new.external_id:
            fact = UniqueKeyClaimed(
                scope=EXTERNAL_ID_SCOPE, key_digest=digest(new.external_id), owner_id=organization_id
            )
            claim = self.writer.append_of(claim_stream(EXTERNAL_ID_SCOPE, new.external_id), 0, [fact], context, None)
        try:
            position = await self.writer.append(
                self.writer.append_of(organization.stream_of(organization_id), 0, [created], context, organization_id),
                claim,
            )
        except WrongExpectedVersion:
            raise AlreadyExists("external_id_taken", "an organization with this external id exists") from None
        return organization_id, position

    async def update(
        self,
        context: CommandContext,
        organization_id: str,
        name: str | None,
        billing_email: str | None,
        payment_method: str | None,
    ) -> int:
        """Change some details of a tenant."""
        context.require(Action.ORGANIZATIONS_UPDATE, organization_id, "organization")
        state, version = await load_organization(self.writer.store, organization_id)
        events = state.update(name, billing_email, payment_method, self.writer.clock.now())
        stream = organization.stream_of(organization_id)
        return await self.writer.append(self.writer.append_of(stream, version, events, context, organization_id))
