"""What every command carries besides its own fields: who asks, and which request it is part of."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from billing_grpc.domain.access import SYSTEM, Action, Principal
from billing_grpc.domain.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class CommandContext:
    """The caller of a command and the correlation id of the request that carries it."""

    principal: Principal
    correlation_id: str = ""
    command_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def require(self, action: Action, organization_id: str | None, resource: str) -> None:
        """Allow the action on a resource of `organization_id`, or refuse without revealing it.

        A caller allowed the action only for other organizations gets NOT_FOUND, exactly what a
        missing resource gets, so it cannot probe other tenants' ids. Platform-wide resources
        (organization None) are no secret: there the answer is PERMISSION_DENIED.
        """
        require(self.principal, action, organization_id, resource)


def require(principal: Principal, action: Action, organization_id: str | None, resource: str) -> None:
    """See CommandContext.require."""
    if principal.may(action, organization_id):
        return
    if organization_id is not None and principal.may_somewhere(action):
        raise NotFound(f"{resource}_not_found", f"{resource.replace('_', ' ')} not found")
    raise PermissionDenied("permission_denied", f"your roles do not allow {action.value}")


def system_context(correlation_id: str = "") -> CommandContext:
    """The context of commands the system issues itself (bootstrap, scheduler)."""
    return CommandContext(SYSTEM, correlation_id or uuid.uuid4().hex)
