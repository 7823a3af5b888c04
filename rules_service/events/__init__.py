"""Event intake: store an event, enrich it from history, decide it, capture the run, queue actions.

Each step is its own module: `store` (idempotent insert), `enrich` (history as of the event's
time), `deciding` (every live ruleset listening to the type), `intake` (the unit of work that
ties them together with `rules_service.runs.capture` and `rules_service.outbox.writer`).
"""
