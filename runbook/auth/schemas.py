"""API-key shapes at the HTTP boundary."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runbook.auth.principal import Role


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Who uses the key (audit actor).")
    roles: list[Role] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name must not be blank")
        return value

    @field_validator("roles")
    @classmethod
    def _unique(cls, value: list[Role]) -> list[Role]:
        return sorted(set(value))  # type: ignore[return-value]


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    roles: list[str]
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    created_by: str | None = None
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="The API key. Shown once: only its hash is stored.")
