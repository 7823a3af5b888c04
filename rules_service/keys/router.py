"""`POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{id}` (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import field_validator

from rules_service.deps import SessionDep
from runbook import auth
from runbook.auth import Principal, require
from runbook.auth.schemas import KeyCreate, KeyCreated, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"])
Admin = Annotated[Principal, Depends(require("admin"))]


class KeyCreateIn(KeyCreate):
    """`KeyCreate`, and a name the database can store (PostgreSQL text holds no NUL)."""

    @field_validator("name")
    @classmethod
    def _storable(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("name must not contain NUL characters")
        return value


@router.post("", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreateIn, session: SessionDep, principal: Admin) -> KeyCreated:
    """A new API key. The key is in this answer only: store it now."""
    row, key = auth.create_key(session=session, name=body.name, roles=list(body.roles),
                               created_by=principal.actor)
    return KeyCreated(**KeyOut.model_validate(row).model_dump(), key=key)


@router.get("", response_model=list[KeyOut])
def list_keys(session: SessionDep, _: Admin) -> list[KeyOut]:
    return [KeyOut.model_validate(row) for row in auth.list_keys(session=session)]


@router.delete("/{key_id}", response_model=KeyOut)
def revoke_key(key_id: str, session: SessionDep, principal: Admin, request: Request) -> KeyOut:
    row = auth.revoke_key(session=session, key_id=key_id, actor=principal.actor)
    cache = getattr(request.app.state, "key_cache", None)
    if cache is not None:
        cache.clear()
    return KeyOut.model_validate(row)
