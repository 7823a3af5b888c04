"""Prometheus metrics of the outbox relay (on the shared `runbook.metrics.REGISTRY`)."""

from __future__ import annotations

from prometheus_client import Counter

from runbook.metrics import REGISTRY

RELAYED = Counter(
    "runbook_outbox_relayed_total",
    "Action commands moved from the outbox to their sink.",
    ["sink"],
    registry=REGISTRY,
)
RELAY_FAILURES = Counter(
    "runbook_outbox_relay_failures_total",
    "Relay rounds that failed (sink or database down); their rows wait and are retried.",
    ["sink"],
    registry=REGISTRY,
)
