"""Prometheus metrics of the action service (on the shared `runbook.metrics.REGISTRY`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from runbook.metrics import REGISTRY

ATTEMPTS = Counter(
    "runbook_action_attempts_total",
    "Connector calls by system and outcome (success, transient, permanent).",
    ["connector", "outcome"],
    registry=REGISTRY,
)
FINISHED = Counter(
    "runbook_actions_finished_total",
    "Actions reaching a final state, by action and status.",
    ["action", "status"],
    registry=REGISTRY,
)
ATTEMPT_SECONDS = Histogram(
    "runbook_action_attempt_seconds",
    "Duration of one connector call, by system.",
    ["connector"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
END_TO_END_SECONDS = Histogram(
    "runbook_action_end_to_end_seconds",
    "From the command's due time (created_at + delay) to its recorded success.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "runbook_action_queue_depth",
    "Stream entries not yet acknowledged (pending) plus not yet read (lag), when Redis is used.",
    ["kind"],
    registry=REGISTRY,
)
ACTIONS_BY_STATUS = Gauge(
    "runbook_actions",
    "Actions in the database by status.",
    ["status"],
    registry=REGISTRY,
)
DUE_LAG_SECONDS = Gauge(
    "runbook_action_due_lag_seconds",
    "How long the oldest due, not yet run action has been waiting.",
    registry=REGISTRY,
)
