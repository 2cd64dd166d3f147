"""Command handlers: load a stream, let the domain decide, append the events."""
