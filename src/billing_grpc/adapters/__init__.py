"""Small MongoDB adapters for operational data that is not part of the event log."""
