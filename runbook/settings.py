"""The one settings object of Runbook: every knob is an environment variable prefixed RUNBOOK_."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNBOOK_", extra="ignore")

    # --- storage and transport -------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user@host/db); SQLite file when unset.",
    )
    sqlite_path: str = Field(default="runbook.db", description="SQLite file of the embedded default.")
    redis_url: str | None = Field(
        default=None,
        description="Redis URL; without it commands go to an in-process action worker.",
    )
    redis_prefix: str = Field(default="runbook", description="Prefix of every Redis key and stream.")

    # --- serving ------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    action_port: int = 8001
    bootstrap_admin_key: str | None = None
    max_body_bytes: int = Field(default=20 * 1024 * 1024, description="Largest accepted request body.")
    log_level: str = "INFO"

    # --- action service -----------------------------------------------------------------
    action_max_attempts: int = 5
    action_backoff_base_seconds: float = 1.0
    action_backoff_max_seconds: float = 300.0
    action_claim_idle_seconds: float = 30.0
    approval_expiry_seconds: float = 7 * 24 * 3600.0
    http_timeout_seconds: float = 10.0

    # --- connectors (RUNBOOK_<SYSTEM>_BASE_URL / _TOKEN ...) -----------------------------
    # Connector settings are added below by the connectors they configure.


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
