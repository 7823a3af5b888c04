"""The action service: takes action commands off `<prefix>:actions`, runs them through the
connectors exactly once in effect, retries, dead-letters, delays and approval gates.

Packages: `actions` (the durable record: models, schemas, service, router), `worker` (the
Redis Streams consumer and the processor), `scheduler` (due actions, approval expiry),
`embedded` (the in-process worker without Redis), `ops` (health, metrics).
"""
