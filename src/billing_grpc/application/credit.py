"""Customer credit commands: an operator's grant (spending it is part of finalizing an invoice)."""

from __future__ import annotations

from dataclasses import dataclass

from billing_grpc.application.context import CommandContext
from billing_grpc.application.streams import Writer, load, load_organization
from billing_grpc.domain import credit
from billing_grpc.domain.access import Action


@dataclass(frozen=True)
class CreditHandlers:
    """Credit commands; each returns the log position its events reached."""

    writer: Writer

    async def grant(self, context: CommandContext, organization_id: str, amount_minor: int, description: str) -> int:
        """Grant credit in the organization's currency, appended at the credit stream's version."""
        context.require(Action.BILLING_OPERATE, organization_id, "organization")
        org, _ = await load_organization(self.writer.store, organization_id)
        stream = credit.stream_of(organization_id)
        held = await load(self.writer.store, stream)
        balance = credit.CustomerCredit.replay(organization_id, held.events)
        granted = balance.grant(org.currency, amount_minor, description, self.writer.clock.now())
        append = self.writer.append_of(stream, held.version, [granted], context, organization_id)
        return await self.writer.append(append)
