"""Payments: the gateway port, the charge ledger, and a simulated gateway with scripted outcomes."""
