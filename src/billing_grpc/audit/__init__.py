"""Auditor tooling: replay verification, export and import of the log, invoice explanations."""
