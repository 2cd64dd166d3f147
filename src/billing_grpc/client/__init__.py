"""The Python client of billing-grpc: an authenticated channel, typed stubs and a usage emitter.

    async with BillingClient.connect("127.0.0.1:50051", api_key) as client:
        async with client.usage_emitter() as emitter:
            await emitter.emit("api_calls", "1", organization_id="org_…")

Only the standard library, grpc, protobuf and the generated `billing.v1` stubs are imported
here, never the server's code.
"""

from billing_grpc.client.channel import bearer_auth, channel_options, connect
from billing_grpc.client.emitter import UsageEmitter, UsageStream
from billing_grpc.client.errors import UsageEmitterError, is_resumable, reason_of
from billing_grpc.client.outcomes import EmitterStats, RejectedEvent
from billing_grpc.client.retries import RETRIED, service_config
from billing_grpc.client.stubs import BillingClient

__all__ = [
    "RETRIED",
    "BillingClient",
    "EmitterStats",
    "RejectedEvent",
    "UsageEmitter",
    "UsageEmitterError",
    "UsageStream",
    "bearer_auth",
    "channel_options",
    "connect",
    "is_resumable",
    "reason_of",
    "service_config",
]
