"""Prometheus metrics of the services, in one registry served by `GET /metrics`.

Other modules add their metrics here (or register them on `REGISTRY`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

DECISIONS = Counter(
    "runbook_decisions_total",
    "Decisions made, by ruleset, version and outcome (decided, no_match, error).",
    ["ruleset", "version", "outcome"],
    registry=REGISTRY,
)
DECISION_SECONDS = Histogram(
    "runbook_decision_seconds",
    "Time to decide one event (enrichment, every ruleset, capture).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
INTAKE_GROUP_SIZE = Histogram(
    "runbook_intake_group_size",
    "Events decided together in one transaction by POST /v1/events (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)
ERRORS = Counter(
    "runbook_errors_total",
    "Errors by kind (unhandled exceptions are kind 'internal').",
    ["kind"],
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "runbook_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "runbook_http_request_seconds",
    "HTTP request latency by route template.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
LIVE_VERSIONS = Counter(
    "runbook_live_registry_reloads_total",
    "Times the live registry reloaded what is live.",
    registry=REGISTRY,
)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
