"""The read side: projections turn the event log into read models that queries serve from.

Every read model can be dropped and rebuilt from position 0 of the log.
"""
