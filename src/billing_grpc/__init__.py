"""billing-grpc: subscription and usage-based billing on an event-sourced log, served over gRPC."""

__version__ = "0.1.0"
