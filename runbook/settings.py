"""The one settings object of Runbook: every knob is an environment variable prefixed RUNBOOK_."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNBOOK_", extra="ignore")

    # --- storage and transport -------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user@host/db); SQLite file when unset.",
    )
    sqlite_path: str = Field(
        default="runbook.db", description="SQLite file of the embedded default."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL; without it commands go to an in-process action worker.",
    )
    redis_prefix: str = Field(
        default="runbook", description="Prefix of every Redis key and stream."
    )

    # --- serving ------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address the services listen on (--host).")
    port: int = Field(default=8000, description="rules_service port (--port).")
    action_port: int = Field(
        default=8001, description="action_service port (--port of python -m action_service)."
    )
    bootstrap_admin_key: str | None = Field(
        default=None, description="An admin API key from the first start on (stored hashed)."
    )
    max_body_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest accepted request body."
    )
    log_level: str = Field(
        default="INFO", description="Log level of the JSON logs (DEBUG, INFO, WARNING, ERROR)."
    )
    live_poll_seconds: float = Field(
        default=0.5,
        description="How often each replica checks the database for a change of live versions "
        "(the fallback of the Redis notification).",
    )

    # --- action service -----------------------------------------------------------------
    action_max_attempts: int = Field(
        default=5,
        description="Attempts of a transiently failing action before it is dead-lettered.",
    )
    action_backoff_base_seconds: float = Field(
        default=1.0, description="First retry delay; doubles per attempt, with jitter."
    )
    action_backoff_max_seconds: float = Field(default=300.0, description="Longest retry delay.")
    action_claim_idle_seconds: float = Field(
        default=30.0,
        description="Stream entries idle this long in a dead consumer are reclaimed (XAUTOCLAIM).",
    )
    approval_expiry_seconds: float = Field(
        default=7 * 24 * 3600.0,
        description="An action waiting for approval expires after this long.",
    )
    http_timeout_seconds: float = Field(
        default=10.0, description="Timeout of one connector HTTP request."
    )

    # --- rules_service: events, outbox relay, webhooks (owned by rules_service.events) ----
    events_batch_max: int = Field(default=1000, description="Most events in one events:batch.")
    events_batch_chunk: int = Field(
        default=250, description="Events stored and decided per transaction in events:batch."
    )
    intake_writers: int = Field(
        default=2,
        ge=1,
        description="Threads deciding POST /v1/events posts, each a group per transaction"
        " (SQLite uses one).",
    )
    intake_group_max: int = Field(
        default=64, ge=1, description="Most concurrent posts decided in one transaction."
    )
    intake_linger_ms: float = Field(
        default=2.0,
        ge=0,
        description="Under load, how long a POST /v1/events group waits for more posts"
        " (a lone post never waits).",
    )
    intake_queue_max: int = Field(
        default=2000,
        ge=1,
        description="Posts waiting to be decided beyond which POST /v1/events answers 503.",
    )
    background: Literal["thread", "process", "none"] = Field(
        default="thread",
        description="Where the outbox relay and the audit chain appender run: threads of the"
        " service, a child process it starts (off the service's GIL: faster under load), or"
        " none (run `python -m rules_service.background` yourself).",
    )
    outbox_relay_batch: int = Field(default=500, description="Outbox rows relayed per round.")
    outbox_relay_interval_ms: float = Field(
        default=50.0,
        ge=0,
        description="Shortest time between two relay rounds woken by commits (they share one).",
    )
    audit_chain_interval_ms: float = Field(
        default=100.0,
        ge=0,
        description="Shortest time between two audit-chain appends woken by commits (reading"
        " the audit log chains what is pending first).",
    )
    outbox_poll_seconds: float = Field(
        default=1.0, description="Relay poll interval (it is also woken after each commit)."
    )
    outbox_backoff_max_seconds: float = Field(
        default=30.0, description="Longest wait between relay retries while the sink is down."
    )
    shopify_webhook_secret: str | None = Field(
        default=None, description="Shopify app secret: verifies X-Shopify-Hmac-Sha256."
    )
    tracking_webhook_secret: str | None = Field(
        default=None, description="Tracking (AfterShip) webhook secret: aftership-hmac-sha256."
    )

    # --- connectors (RUNBOOK_<SYSTEM>_BASE_URL / _TOKEN ...) -----------------------------
    # Connector settings are added below by the connectors they configure.
    # ===== connectors section (owned by connectors/, see docs/connectors.md) =====
    order_system: Literal["shopify", "base", "ecforce"] = Field(
        default="shopify", description="Serves refund, cancel_order, hold_*, tag_order."
    )
    ticket_system: Literal["zendesk", "gorgias"] = Field(
        default="zendesk", description="Serves create_ticket and escalate."
    )
    label_system: Literal["shipstation", "shipbob"] = Field(
        default="shipstation", description="Serves create_return_label and create_rma."
    )
    bnpl_gateways: list[str] = Field(
        default=["paidy"],
        description="Payment gateway names whose refunds go to the BNPL provider.",
    )
    connector_rate_per_second: float = Field(
        default=20.0, description="Token-bucket rate of calls to one external system."
    )
    connector_burst: int = Field(default=20, description="Token-bucket size per system.")
    action_worker_threads: int = Field(
        default=8, description="Actions one worker process runs at once."
    )
    action_lease_seconds: float = Field(
        default=120.0,
        description="How long a worker owns an in-progress action before another may take it.",
    )
    action_poll_seconds: float = Field(
        default=0.5, description="How often a worker looks for due (delayed, retried) actions."
    )
    shopify_base_url: str | None = Field(
        default=None, description="Shopify shop URL, https://{shop}.myshopify.com."
    )
    shopify_token: str | None = Field(
        default=None, description="Shopify Admin API access token (X-Shopify-Access-Token)."
    )
    shopify_api_version: str = Field(
        default="2024-10", description="Shopify Admin API version in the request paths."
    )
    base_base_url: str = Field(default="https://api.thebase.in", description="BASE API URL.")
    base_token: str | None = Field(default=None, description="BASE OAuth access token.")
    ecforce_base_url: str | None = Field(
        default=None, description="ecforce shop URL, https://{shop}.ec-force.com."
    )
    ecforce_token: str | None = Field(default=None, description="ecforce API token.")
    zendesk_base_url: str | None = Field(
        default=None, description="Zendesk URL, https://{subdomain}.zendesk.com."
    )
    zendesk_token: str | None = Field(
        default=None, description="Zendesk API token (Basic {email}/token:{token})."
    )
    zendesk_email: str | None = Field(
        default=None, description="Zendesk agent email the token belongs to."
    )
    gorgias_base_url: str | None = Field(
        default=None, description="Gorgias URL, https://{domain}.gorgias.com."
    )
    gorgias_token: str | None = Field(
        default=None, description="Gorgias API key (Basic {email}:{key})."
    )
    gorgias_email: str | None = Field(
        default=None, description="Gorgias user email the key belongs to."
    )
    shipstation_base_url: str = Field(
        default="https://ssapi.shipstation.com", description="ShipStation API URL."
    )
    shipstation_token: str | None = Field(
        default=None, description="ShipStation credentials as {api_key}:{api_secret} (Basic)."
    )
    shipbob_base_url: str = Field(default="https://api.shipbob.com", description="ShipBob API URL.")
    shipbob_token: str | None = Field(
        default=None, description="ShipBob personal access token (Bearer)."
    )
    bnpl_base_url: str = Field(
        default="https://api.paidy.com", description="BNPL provider (Paidy) API URL."
    )
    bnpl_token: str | None = Field(default=None, description="BNPL provider secret key (Bearer).")
    klaviyo_base_url: str = Field(default="https://a.klaviyo.com", description="Klaviyo API URL.")
    klaviyo_token: str | None = Field(default=None, description="Klaviyo private API key.")
    klaviyo_revision: str = Field(default="2024-10-15", description="Klaviyo API revision header.")
    slack_webhook_url: str | None = Field(
        default=None, description="Slack incoming webhook URL (used when no token is set)."
    )
    slack_base_url: str = Field(
        default="https://slack.com/api", description="Slack Web API URL (chat.postMessage)."
    )
    slack_token: str | None = Field(
        default=None, description="Slack bot token: chat.postMessage instead of the webhook."
    )
    slack_default_channel: str = Field(
        default="#ops", description="Channel when a post_slack row names none."
    )
    webhook_secret: str | None = Field(
        default=None, description="HMAC-SHA256 key that signs the generic webhook action."
    )
    webhook_allowed_hosts: list[str] = Field(
        default=[], description="Hosts the `webhook` action may call (empty: any host)."
    )
    carrier_webhook_url: str | None = Field(
        default=None, description="Where notify_carrier posts (a signed webhook)."
    )
    return_address: dict[str, str] | None = Field(
        default=None,
        description="The shop's return address for return labels, as JSON (name, street1, "
        "city, state, postalCode, country, phone).",
    )
    # ===== end of connectors section =====


    def as_environment(self) -> dict[str, str]:
        """These settings as `RUNBOOK_*` variables, for a child process to read the same."""
        env = {}
        for name, value in self.model_dump(mode="json").items():
            if value is not None:
                text = value if isinstance(value, str) else json.dumps(value)
                env[f"RUNBOOK_{name.upper()}"] = text
        return env


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
