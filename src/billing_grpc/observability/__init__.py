"""Observability adapters: Prometheus metrics, their HTTP endpoint, and the metered payment gateway."""
