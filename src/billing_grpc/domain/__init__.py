"""The pure core: money, time, pricing, events and aggregates. Standard library only, no I/O."""
