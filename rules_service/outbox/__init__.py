"""The transactional outbox of action commands and the relay that ships them.

`writer` adds one row per action in the transaction of the run; `relay.Relay` moves unrelayed
rows to the Redis Stream `<prefix>:actions` (or to the in-process action worker), marks them
relayed, and retries with backoff while the sink is down. `lifecycle` starts and stops it.
"""

from rules_service.outbox.lifecycle import nudge, start_relay, stop_relay

__all__ = ["nudge", "start_relay", "stop_relay"]
